//! Serves a folder with sitegen's static file server, without live reload: the server half of
//! `sitegen serve`, alone, for benches/serve.sh.
//!
//! Usage: `serve_static DIR [PORT]` (port 8080 by default; 0 picks one). Prints the address it
//! listens on, then serves until Ctrl-C.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::PathBuf;
use std::sync::Arc;

use sitegen::serve::server::{self, Folder};

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let Some(root) = args.next() else {
        eprintln!("usage: serve_static DIR [PORT]");
        std::process::exit(2);
    };
    let port: u16 = match args.next().map(|port| port.parse()) {
        None => 8080,
        Some(Ok(port)) => port,
        Some(Err(_)) => {
            eprintln!("serve_static: the port must be a number");
            std::process::exit(2);
        }
    };
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(async move {
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
            println!("serving {root} on http://{}/", listener.local_addr()?);
            let site = Arc::new(Folder {
                root: PathBuf::from(root),
                inject: None,
                writes: std::sync::Arc::default(),
            });
            let shutdown = async {
                let _ = tokio::signal::ctrl_c().await;
            };
            server::run(listener, server::router(site), shutdown).await
        })
}
