//! What a request asks for: a folder, a file, or a DAP response of a dataset.

/// The responses a dataset URL can ask for, named by the suffix after the dataset's path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseKind {
    /// DAP2 `.dds`.
    Dds,
    /// DAP2 `.das`.
    Das,
    /// DAP2 `.dods` (binary data).
    Dods,
    /// DAP2 `.ascii` / `.asc`.
    Ascii,
    /// DAP2 `.ver` / `.version`.
    Version,
    /// DAP4 `.dmr` / `.dmr.xml`.
    Dmr,
    /// DAP4 `.dap` (binary data).
    Dap,
    /// DAP4 `.dsr` (the dataset services response).
    Dsr,
    /// The HTML data request form.
    Html,
    /// DDS and DAS rendered for people.
    Info,
    /// A help page.
    Help,
    /// A quick-look picture of a 2-D slice (`.png`).
    Png,
}

/// Suffixes in matching order: longer ones that end like a shorter one come first.
pub(crate) const SUFFIXES: &[(&str, ResponseKind)] = &[
    (".dmr.xml", ResponseKind::Dmr),
    (".dods", ResponseKind::Dods),
    (".dds", ResponseKind::Dds),
    (".das", ResponseKind::Das),
    (".ascii", ResponseKind::Ascii),
    (".asc", ResponseKind::Ascii),
    (".version", ResponseKind::Version),
    (".ver", ResponseKind::Version),
    (".dmr", ResponseKind::Dmr),
    (".dap", ResponseKind::Dap),
    (".dsr", ResponseKind::Dsr),
    (".html", ResponseKind::Html),
    (".info", ResponseKind::Info),
    (".help", ResponseKind::Help),
    (".png", ResponseKind::Png),
];

/// Splits the last path component into the dataset's file name and the response asked for:
/// `sst.nc.dds` → (`sst.nc`, `Dds`). `None` when the name ends in no known suffix.
#[must_use]
pub fn split_suffix(name: &str) -> Option<(&str, ResponseKind)> {
    SUFFIXES.iter().find_map(|(suffix, kind)| {
        name.strip_suffix(suffix)
            .filter(|stem| !stem.is_empty())
            .map(|stem| (stem, *kind))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes_split_off_the_dataset_name() {
        assert_eq!(split_suffix("a.nc.dds"), Some(("a.nc", ResponseKind::Dds)));
        assert_eq!(
            split_suffix("a.nc.dmr.xml"),
            Some(("a.nc", ResponseKind::Dmr))
        );
        assert_eq!(split_suffix("a.nc.dmr"), Some(("a.nc", ResponseKind::Dmr)));
        assert_eq!(
            split_suffix("a.nc.asc"),
            Some(("a.nc", ResponseKind::Ascii))
        );
        assert_eq!(
            split_suffix("a.nc.version"),
            Some(("a.nc", ResponseKind::Version))
        );
        assert_eq!(split_suffix(".dds"), None);
        assert_eq!(split_suffix("a.nc"), None);
    }
}
