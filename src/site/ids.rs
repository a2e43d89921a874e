//! Identifiers of the model's parts: indexes into the [`Site`](super::Site)'s vectors, typed so
//! that a page's index is never taken for a section's, a taxonomy's or a term's.

/// Index of a page in [`Site::pages`](super::Site::pages).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PageId(pub usize);

/// Index of a section in [`Site::sections`](super::Site::sections).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SectionId(pub usize);

/// Index of a taxonomy in [`Site::taxonomies`](super::Site::taxonomies).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaxonomyId(pub usize);

/// A term of a taxonomy: the taxonomy, and the index in its
/// [`terms`](super::Taxonomy::terms).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TermId {
    /// The taxonomy.
    pub(crate) taxonomy: TaxonomyId,
    /// The term's index in it.
    pub(crate) index: usize,
}

/// A page or a section, as named by a content path (`blog/a.md`, `blog/_index.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ContentRef {
    /// A page.
    Page(PageId),
    /// A section.
    Section(SectionId),
}
