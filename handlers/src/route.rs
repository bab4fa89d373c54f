//! What a request asks for: a folder, a file, or a DAP response of a dataset.

/// The responses a dataset URL can ask for, named by the suffix after the dataset's path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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
    /// `.nc`: the DAP2-constrained subset as a netCDF-3 file.
    NetCdf3,
    /// `.nc4`: the DAP2-constrained subset as a netCDF-4 file.
    NetCdf4,
    /// `.dap.nc`: the DAP4-constrained subset as a netCDF-3 file.
    Dap4NetCdf3,
    /// `.dap.nc4`: the DAP4-constrained subset as a netCDF-4 file.
    Dap4NetCdf4,
}

/// Suffixes in matching order: longer ones that end like a shorter one come first.
pub(crate) const SUFFIXES: &[(&str, ResponseKind)] = &[
    (".dap.nc4", ResponseKind::Dap4NetCdf4),
    (".dap.nc", ResponseKind::Dap4NetCdf3),
    (".nc4", ResponseKind::NetCdf4),
    (".nc", ResponseKind::NetCdf3),
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
        assert_eq!(
            split_suffix("a.nc.nc4"),
            Some(("a.nc", ResponseKind::NetCdf4))
        );
        assert_eq!(
            split_suffix("a.nc.dap.nc"),
            Some(("a.nc", ResponseKind::Dap4NetCdf3))
        );
        assert_eq!(
            split_suffix("a.h5.dap.nc4"),
            Some(("a.h5", ResponseKind::Dap4NetCdf4))
        );
        assert_eq!(
            split_suffix("a.h5.nc"),
            Some(("a.h5", ResponseKind::NetCdf3))
        );
        assert_eq!(split_suffix(".dds"), None);
        // A file named `a.nc` is served as itself: real files resolve before suffixes.
        assert_eq!(split_suffix("a.nc"), Some(("a", ResponseKind::NetCdf3)));
        assert_eq!(split_suffix("a.zip"), None);
    }
}
