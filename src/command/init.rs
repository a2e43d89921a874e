//! `sitegen init DIR`: a small working site that uses the built-in default theme.

use std::path::Path;

use crate::diagnostics::{Error, Result};

/// The files of a new site, relative to its folder.
const FILES: [(&str, &str); 5] = [
    (
        "sitegen.toml",
        r#"# The site's configuration. See `sitegen --help` and the README for every key.
base_url = "https://example.org"
title = "My site"
description = "A site built with sitegen."
theme = "default"
generate_feeds = true
taxonomies = [{ name = "tags" }]

[extra]
"#,
    ),
    (
        "content/_index.md",
        r#"+++
title = "My site"
+++

Welcome! This is the home page, written in `content/_index.md`.
"#,
    ),
    (
        "content/blog/_index.md",
        r#"+++
title = "Blog"
description = "Notes and news."
sort_by = "date"
paginate_by = 10
+++
"#,
    ),
    (
        "content/blog/first-post.md",
        r#"+++
title = "My first post"
description = "Hello from sitegen."
date = 2026-01-15
[taxonomies]
tags = ["news"]
+++

This is the first post. Edit `content/blog/first-post.md` and run `sitegen build` again.

<!-- more -->

## What next

Read [the second post](@/blog/second-post.md) to see internal links at work.
"#,
    ),
    (
        "content/blog/second-post.md",
        r#"+++
title = "A second post"
description = "Pages, sections and links."
date = 2026-02-01
[taxonomies]
tags = ["news", "howto"]
+++

Every `.md` file in `content/blog/` is a page of the *Blog* section.

| Command          | What it does                |
|------------------|-----------------------------|
| `sitegen build`  | writes the site to public/  |
| `sitegen check`  | finds problems, writes none |
"#,
    ),
];

/// Creates a new site in `dir`, which must be missing or empty.
pub fn init(dir: &Path) -> Result<()> {
    if dir.exists()
        && std::fs::read_dir(dir)
            .map_err(|e| Error::io(dir, e))?
            .next()
            .is_some()
    {
        return Err(Error::Usage(format!(
            "`{}` is not empty; give `sitegen init` a new folder",
            dir.display()
        )));
    }
    for (name, text) in FILES {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        std::fs::write(&path, text).map_err(|e| Error::io(&path, e))?;
    }
    let statics = dir.join("static");
    std::fs::create_dir_all(&statics).map_err(|e| Error::io(&statics, e))?;
    std::fs::write(statics.join(".gitkeep"), "").map_err(|e| Error::io(&statics, e))?;
    Ok(())
}
