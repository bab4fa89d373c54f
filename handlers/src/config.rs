//! The server's settings: one flat TOML table, each key overridable by a `FATHOM_<KEY>`
//! environment variable and by `fathom serve --set key=value` (the binary applies them in that
//! order, later wins). Every key is documented in the README's "Configuration" section.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable `key=value` lines.
    #[default]
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

/// Everything an operator can set. Field names are the TOML keys.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address and port to listen on.
    pub bind: SocketAddr,
    /// The folder to serve; `None` serves the bundled samples.
    pub root: Option<PathBuf>,
    /// Bytes of decoded chunks kept in memory, shared by every request.
    pub chunk_cache_bytes: u64,
    /// How many open datasets (metadata, renderings) are kept.
    pub catalog_capacity: u64,
    /// Bytes of whole responses to repeated constrained requests kept in memory (0: none); a
    /// response over 1/16 of this is never kept.
    pub response_cache_bytes: u64,
    /// Largest data response (`.dods`, `.dap`, `.ascii`) in bytes; 0 means no limit. Checked
    /// from the constraint before any data is sent.
    pub max_response_bytes: u64,
    /// Largest temporary netCDF-4 file a file-out request (`X.nc4?…`, `X.dap.nc4?…`) may write,
    /// in bytes; 0 means no limit. A larger one gets 413 (ask for `.nc`, which is streamed).
    pub nc4_max_bytes: u64,
    /// Most values an OGC API – EDR query may select (all parameters together); 0 means no
    /// limit. A larger query gets 413 saying how to narrow it.
    pub edr_max_values: usize,
    /// Most pixels (values) a quick-look `.png` may draw; 0 means no limit. A larger slice gets
    /// 413 saying which stride brings it under.
    pub png_max_pixels: usize,
    /// Requests served at once; further ones wait (up to `request_timeout_secs`) for a slot.
    pub max_concurrent_requests: usize,
    /// Seconds a request may take to start its response (0: no limit). A download that has
    /// started is not cut off by it.
    pub request_timeout_secs: f64,
    /// Seconds running downloads may go on after a shutdown was asked for.
    pub shutdown_grace_secs: f64,
    /// Origins allowed to read responses from browser scripts: `["*"]` for any, `[]` for none.
    pub cors_origins: Vec<String>,
    /// Responses smaller than this are never compressed (not worth the CPU).
    pub compress_min_bytes: u64,
    /// Whether binary data responses (`.dods`, `.dap`) are compressed when the client accepts
    /// gzip / deflate. Text responses always are.
    pub compress_data: bool,
    /// The log filter (`info`, `warn`, `info,access=off`, …), as `tracing`'s `EnvFilter`.
    pub log: String,
    /// `text` or `json`.
    pub log_format: LogFormat,
    /// Whether the netCDF / HDF5 libraries run in separate reader processes, so that a damaged
    /// file that crashes them costs one request (a 500), not the server.
    pub isolate_readers: bool,
    /// Reader processes kept at most (with `isolate_readers`).
    pub reader_processes: usize,
    /// Seconds a reader process may spend on one open or one read piece before it is killed.
    pub reader_timeout_secs: f64,
    /// Datasets on remote OPeNDAP servers, each served under its own URL path (TOML only:
    /// `[[mounts]]` tables).
    pub mounts: Vec<Mount>,
    /// Timeouts, retries and trusted certificates for remote datasets that NcML files in the
    /// data root name as members (TOML only: a `[remote]` table). Mounts have their own.
    pub remote: RemoteConfig,
}

/// `[remote]`: the settings remote NcML members are opened with, by default and per host
/// (`[[remote.hosts]]`). NcML files choose URLs, never these.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RemoteConfig {
    /// Seconds one request to a remote server may take.
    pub timeout_secs: f64,
    /// Further attempts after a timeout, a refused connection or a 502/503/504.
    pub retries: u32,
    /// PEM certificates trusted for `https://` members besides the system's.
    pub ca_file: Option<PathBuf>,
    /// Settings for one host each; a key left out takes the value above.
    pub hosts: Vec<RemoteHost>,
}

impl Default for RemoteConfig {
    fn default() -> Self {
        Self {
            timeout_secs: default_mount_timeout(),
            retries: default_mount_retries(),
            ca_file: None,
            hosts: Vec::new(),
        }
    }
}

/// `[[remote.hosts]]`: the settings for members on one server.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteHost {
    /// `host` or `host:port`, as member URLs spell it.
    pub host: String,
    /// Seconds one request may take.
    #[serde(default)]
    pub timeout_secs: Option<f64>,
    /// Further attempts.
    #[serde(default)]
    pub retries: Option<u32>,
    /// PEM certificates trusted besides the system's.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

impl RemoteConfig {
    /// The policy the catalog opens remote NcML members with.
    #[must_use]
    pub fn policy(&self) -> cdm::formats::dap::RemotePolicy {
        use cdm::formats::dap::{RemotePolicy, RemoteSettings};
        let default = RemoteSettings {
            timeout: Duration::from_secs_f64(self.timeout_secs),
            retries: self.retries,
            ca_file: self.ca_file.clone(),
        };
        RemotePolicy {
            hosts: self
                .hosts
                .iter()
                .map(|h| {
                    let s = RemoteSettings {
                        timeout: h
                            .timeout_secs
                            .map_or(default.timeout, Duration::from_secs_f64),
                        retries: h.retries.unwrap_or(default.retries),
                        ca_file: h.ca_file.clone().or_else(|| default.ca_file.clone()),
                    };
                    (h.host.clone(), s)
                })
                .collect(),
            default,
            tap: None,
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let timeouts = std::iter::once(("[remote]".to_owned(), Some(self.timeout_secs))).chain(
            self.hosts
                .iter()
                .map(|h| (format!("[[remote.hosts]] {:?}", h.host), h.timeout_secs)),
        );
        for (place, t) in timeouts {
            if let Some(t) = t
                && (!t.is_finite() || !(0.001..=1e9).contains(&t))
            {
                return Err(ConfigError::Parse(format!(
                    "{place}: timeout_secs must be a positive number of seconds"
                )));
            }
        }
        let files = std::iter::once(("[remote]".to_owned(), &self.ca_file)).chain(
            self.hosts
                .iter()
                .map(|h| (format!("[[remote.hosts]] {:?}", h.host), &h.ca_file)),
        );
        for (place, f) in files {
            if let Some(f) = f
                && !f.is_file()
            {
                return Err(ConfigError::Parse(format!(
                    "{place}: ca_file {} is not a file",
                    f.display()
                )));
            }
        }
        for h in &self.hosts {
            if h.host.is_empty() || h.host.contains(['/', '?', '#', '@']) {
                return Err(ConfigError::Parse(format!(
                    "[[remote.hosts]] host {:?} must be a host or host:port",
                    h.host
                )));
            }
        }
        Ok(())
    }
}

/// Which protocol a remote mount speaks to its server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MountProtocol {
    /// DAP4 when the server answers it, DAP2 otherwise.
    #[default]
    Auto,
    /// DDS + DAS, `.dods`.
    Dap2,
    /// DMR, `.dap`.
    Dap4,
    /// A folder of plain files on an HTTP server that answers `Range` requests (the mount's URL
    /// is its `http(s)://…/` prefix): an object-store mount.
    Files,
    /// The URL is a THREDDS `catalog.xml`: its datasets are served as a folder at the mount
    /// path (also chosen when `auto` and the URL ends with `catalog.xml`).
    Catalog,
}

/// One remote dataset served under a URL path: `/remote/coads` answers `/remote/coads.dds`,
/// `.das`, `.dods`, `.dmr`, `.dap`, … from the dataset at `url`. Or a remote THREDDS catalog
/// served as a folder: `/thredds` lists the catalog at `url`, `/thredds/sub/` its `catalogRef`
/// `sub`, `/thredds/x.nc.dds` its dataset `x.nc`. Only these configured URLs (and, for a
/// catalog, the catalogs and datasets it leads to on the same server) are ever fetched.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mount {
    /// The URL path the dataset is served at (`/remote/coads`).
    pub path: String,
    /// The remote dataset's URL (`http://host/opendap/coads.nc`), without suffix or query.
    pub url: String,
    /// `auto`, `dap2` or `dap4`.
    #[serde(default)]
    pub protocol: MountProtocol,
    /// Seconds one request to the remote server may take.
    #[serde(default = "default_mount_timeout")]
    pub timeout_secs: f64,
    /// Further attempts after a timeout, a refused connection or a 502/503/504.
    #[serde(default = "default_mount_retries")]
    pub retries: u32,
    /// Seconds the remote metadata is trusted before it is fetched again.
    #[serde(default = "default_mount_refresh")]
    pub refresh_secs: f64,
    /// Object-store mounts (`s3://` or `protocol = "files"`): an S3-compatible endpoint (else
    /// `AWS_ENDPOINT_URL`).
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Object-store mounts: the region (else `AWS_REGION`).
    #[serde(default)]
    pub region: Option<String>,
    /// Object-store mounts: allow a plain-http endpoint (else `AWS_ALLOW_HTTP`).
    #[serde(default)]
    pub allow_http: Option<bool>,
    /// Object-store mounts: send unsigned requests (a public bucket).
    #[serde(default)]
    pub anonymous: bool,
    /// Object-store mounts: the largest netCDF-4 / HDF5 object opened (its metadata is read
    /// from a local copy).
    #[serde(default)]
    pub max_image_bytes: Option<u64>,
    /// PEM certificates trusted for an `https://` URL besides the system's.
    #[serde(default)]
    pub ca_file: Option<std::path::PathBuf>,
}

impl Mount {
    /// Whether this mount is an object-store prefix (`s3://…`, or `protocol = "files"`) rather
    /// than one remote DAP dataset.
    #[must_use]
    pub fn is_object(&self) -> bool {
        self.url.starts_with("s3://") || self.protocol == MountProtocol::Files
    }

    /// An object-store mount of `url` at the URL path `path` with default settings (what
    /// `fathom serve s3://bucket/prefix` or `fathom serve http://host/folder/` makes).
    #[must_use]
    pub fn object(path: &str, url: &str) -> Self {
        Self {
            path: path.to_owned(),
            url: url.to_owned(),
            protocol: if url.starts_with("s3://") {
                MountProtocol::Auto
            } else {
                MountProtocol::Files
            },
            timeout_secs: default_mount_timeout(),
            retries: default_mount_retries(),
            refresh_secs: default_mount_refresh(),
            endpoint: None,
            region: None,
            allow_http: None,
            anonymous: false,
            max_image_bytes: None,
            ca_file: None,
        }
    }

    /// Whether the mount is a THREDDS catalog (a folder) rather than one dataset.
    #[must_use]
    pub fn is_catalog(&self) -> bool {
        self.protocol == MountProtocol::Catalog
            || (self.protocol == MountProtocol::Auto && self.url.ends_with("catalog.xml"))
    }
}

fn default_mount_timeout() -> f64 {
    20.0
}
fn default_mount_retries() -> u32 {
    2
}
fn default_mount_refresh() -> f64 {
    300.0
}

impl Default for Config {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            root: None,
            chunk_cache_bytes: cdm::engine::cache::DEFAULT_CACHE_BYTES,
            response_cache_bytes: 64 << 20,
            catalog_capacity: 256,
            max_response_bytes: 0,
            nc4_max_bytes: 2 << 30,
            edr_max_values: 10_000_000,
            png_max_pixels: 4_194_304,
            max_concurrent_requests: 1024,
            request_timeout_secs: 60.0,
            shutdown_grace_secs: 30.0,
            cors_origins: Vec::new(),
            compress_min_bytes: 1024,
            compress_data: false,
            log: "info".into(),
            log_format: LogFormat::Text,
            isolate_readers: true,
            reader_processes: 4,
            reader_timeout_secs: 120.0,
            mounts: Vec::new(),
            remote: RemoteConfig::default(),
        }
    }
}

/// Why a setting was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The TOML is malformed, has an unknown key or a value of the wrong type.
    #[error("{0}")]
    Parse(String),
    /// A `FATHOM_*` variable or `--set` value that does not fit its key.
    #[error("{origin} {key}={value:?}: {message}")]
    BadValue {
        /// `FATHOM_KEY` or `--set`.
        origin: String,
        /// The key.
        key: String,
        /// The value given.
        value: String,
        /// What is wrong with it.
        message: String,
    },
    /// `--set` with a key that does not exist.
    #[error("unknown setting {0:?} (see the README's Configuration section)")]
    UnknownKey(String),
}

/// Every key, in the order the README documents them.
pub const KEYS: &[&str] = &[
    "bind",
    "root",
    "chunk_cache_bytes",
    "response_cache_bytes",
    "catalog_capacity",
    "max_response_bytes",
    "nc4_max_bytes",
    "edr_max_values",
    "png_max_pixels",
    "max_concurrent_requests",
    "request_timeout_secs",
    "shutdown_grace_secs",
    "cors_origins",
    "compress_min_bytes",
    "compress_data",
    "log",
    "log_format",
    "isolate_readers",
    "reader_processes",
    "reader_timeout_secs",
];

impl Config {
    /// Settings from a TOML document; absent keys keep their defaults.
    ///
    /// # Errors
    /// Malformed TOML, an unknown key, or a value of the wrong type.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let config: Self = toml::from_str(text).map_err(|e| ConfigError::Parse(e.to_string()))?;
        config.check()?;
        Ok(config)
    }

    /// Settings from the TOML file at `path`.
    ///
    /// # Errors
    /// An unreadable file, or as [`Config::from_toml`].
    pub fn from_file(path: &std::path::Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml(&text).map_err(|e| match e {
            ConfigError::Parse(m) => ConfigError::Parse(format!("{}: {m}", path.display())),
            other => other,
        })
    }

    /// Applies `FATHOM_<KEY>` variables found by `lookup` (pass `|k| std::env::var(k).ok()`).
    ///
    /// # Errors
    /// A variable whose value does not fit its key.
    pub fn apply_env(
        &mut self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        for key in KEYS {
            let var = format!("FATHOM_{}", key.to_ascii_uppercase());
            if let Some(value) = lookup(&var) {
                self.set(key, &value, &var)?;
            }
        }
        Ok(())
    }

    /// Applies one `key=value` from the command line.
    ///
    /// # Errors
    /// No `=`, an unknown key, or a value that does not fit.
    pub fn apply_flag(&mut self, assignment: &str) -> Result<(), ConfigError> {
        let (key, value) = assignment
            .split_once('=')
            .ok_or_else(|| ConfigError::UnknownKey(assignment.to_owned()))?;
        let key = key.trim();
        if !KEYS.contains(&key) {
            return Err(ConfigError::UnknownKey(key.to_owned()));
        }
        self.set(key, value.trim(), "--set")
    }

    /// Sets `key` from its text form. Lists (`cors_origins`) are comma-separated.
    fn set(&mut self, key: &str, value: &str, origin: &str) -> Result<(), ConfigError> {
        let bad = |message: String| ConfigError::BadValue {
            origin: origin.to_owned(),
            key: key.to_owned(),
            value: value.to_owned(),
            message,
        };
        fn num<T: std::str::FromStr>(v: &str) -> Result<T, String>
        where
            T::Err: std::fmt::Display,
        {
            v.parse::<T>().map_err(|e| e.to_string())
        }
        fn flag(v: &str) -> Result<bool, String> {
            match v.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Ok(true),
                "false" | "0" | "no" | "off" => Ok(false),
                _ => Err("expected true or false".into()),
            }
        }
        match key {
            "bind" => self.bind = num(value).map_err(bad)?,
            "root" => self.root = (!value.is_empty()).then(|| PathBuf::from(value)),
            "chunk_cache_bytes" => self.chunk_cache_bytes = num(value).map_err(bad)?,
            "response_cache_bytes" => self.response_cache_bytes = num(value).map_err(bad)?,
            "catalog_capacity" => self.catalog_capacity = num(value).map_err(bad)?,
            "max_response_bytes" => self.max_response_bytes = num(value).map_err(bad)?,
            "nc4_max_bytes" => self.nc4_max_bytes = num(value).map_err(bad)?,
            "edr_max_values" => self.edr_max_values = num(value).map_err(bad)?,
            "png_max_pixels" => self.png_max_pixels = num(value).map_err(bad)?,
            "max_concurrent_requests" => self.max_concurrent_requests = num(value).map_err(bad)?,
            "request_timeout_secs" => self.request_timeout_secs = num(value).map_err(bad)?,
            "shutdown_grace_secs" => self.shutdown_grace_secs = num(value).map_err(bad)?,
            "cors_origins" => {
                self.cors_origins = value
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect();
            }
            "compress_min_bytes" => self.compress_min_bytes = num(value).map_err(bad)?,
            "compress_data" => self.compress_data = flag(value).map_err(bad)?,
            "isolate_readers" => self.isolate_readers = flag(value).map_err(bad)?,
            "reader_processes" => self.reader_processes = num(value).map_err(bad)?,
            "reader_timeout_secs" => self.reader_timeout_secs = num(value).map_err(bad)?,
            "log" => value.clone_into(&mut self.log),
            "log_format" => {
                self.log_format = match value.to_ascii_lowercase().as_str() {
                    "text" => LogFormat::Text,
                    "json" => LogFormat::Json,
                    _ => return Err(bad("expected text or json".into())),
                }
            }
            other => return Err(ConfigError::UnknownKey(other.to_owned())),
        }
        self.check().map_err(|e| match e {
            ConfigError::Parse(m) => bad(m),
            other => other,
        })
    }

    /// Checks values the types alone allow but the server cannot use.
    fn check(&self) -> Result<(), ConfigError> {
        if self.max_concurrent_requests == 0 {
            return Err(ConfigError::Parse(
                "max_concurrent_requests must be at least 1".into(),
            ));
        }
        if self.reader_processes == 0 {
            return Err(ConfigError::Parse(
                "reader_processes must be at least 1".into(),
            ));
        }
        for (name, v) in [
            ("request_timeout_secs", self.request_timeout_secs),
            ("shutdown_grace_secs", self.shutdown_grace_secs),
            ("reader_timeout_secs", self.reader_timeout_secs),
        ] {
            if !v.is_finite() || !(0.0..=1e9).contains(&v) {
                return Err(ConfigError::Parse(format!(
                    "{name} must be a number of seconds ≥ 0"
                )));
            }
        }
        self.remote.validate()?;
        let mut seen = std::collections::HashSet::new();
        for m in &self.mounts {
            let p = &m.path;
            let segments_ok = p
                .split('/')
                .skip(1)
                .all(|s| !s.is_empty() && s != "." && s != ".." && !s.contains('\\'));
            let whole_tree = p == "/" && m.is_object();
            if !whole_tree && (!p.starts_with('/') || p.len() < 2 || !segments_ok) {
                return Err(ConfigError::Parse(format!(
                    "mount path {p:?} must look like /folder/name (no empty, . or .. parts)"
                )));
            }
            if !seen.insert(p.clone()) {
                return Err(ConfigError::Parse(format!(
                    "mount path {p:?} is given twice"
                )));
            }
            let scheme_ok = if m.is_object() {
                m.url.starts_with("s3://")
                    || m.protocol == MountProtocol::Files
                        && (m.url.starts_with("http://") || m.url.starts_with("https://"))
            } else {
                ["http://", "https://", "dap2://", "dap4://"]
                    .iter()
                    .any(|s| m.url.starts_with(s))
            };
            if !scheme_ok || m.url.contains(['?', '#']) {
                return Err(ConfigError::Parse(format!(
                    "mount url {:?} must be an http:// or https:// (or dap2:// / dap4://) dataset or \
catalog.xml URL, an s3://bucket/prefix, or an http(s):// folder with protocol = \"files\"; without query",
                    m.url
                )));
            }
            if let Some(f) = &m.ca_file
                && !f.is_file()
            {
                return Err(ConfigError::Parse(format!(
                    "mount {p:?}: ca_file {} is not a file",
                    f.display()
                )));
            }
            for (name, v) in [
                ("timeout_secs", m.timeout_secs),
                ("refresh_secs", m.refresh_secs),
            ] {
                if !v.is_finite() || !(0.001..=1e9).contains(&v) {
                    return Err(ConfigError::Parse(format!(
                        "mount {p:?}: {name} must be a positive number of seconds"
                    )));
                }
            }
        }
        Ok(())
    }

    /// The request timeout, `None` when disabled.
    #[must_use]
    pub fn request_timeout(&self) -> Option<Duration> {
        (self.request_timeout_secs > 0.0)
            .then(|| Duration::from_secs_f64(self.request_timeout_secs))
    }

    /// How long a reader process may take over one call (a zero setting is taken as a second).
    #[must_use]
    pub fn reader_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.reader_timeout_secs.max(1.0))
    }

    /// The shutdown grace period.
    #[must_use]
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs_f64(self.shutdown_grace_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_sets_keys_and_keeps_defaults_for_the_rest() {
        let c = Config::from_toml(
            "bind = \"0.0.0.0:9000\"\nmax_response_bytes = 1000\ncors_origins = [\"https://a.example\"]\nlog_format = \"json\"\n",
        )
        .expect("valid");
        assert_eq!(c.bind, "0.0.0.0:9000".parse().expect("addr"));
        assert_eq!(c.max_response_bytes, 1000);
        assert_eq!(c.cors_origins, vec!["https://a.example".to_owned()]);
        assert_eq!(c.log_format, LogFormat::Json);
        assert_eq!(c.catalog_capacity, Config::default().catalog_capacity);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        assert!(Config::from_toml("bnid = \"x\"").is_err());
        assert!(Config::from_toml("max_response_bytes = \"lots\"").is_err());
        assert!(Config::from_toml("max_concurrent_requests = 0").is_err());
        assert!(Config::from_toml("request_timeout_secs = -1").is_err());
        let mut c = Config::default();
        assert!(c.apply_flag("nope=1").is_err());
        assert!(c.apply_flag("compress_data=maybe").is_err());
        assert!(c.apply_flag("bind=here").is_err());
    }

    #[test]
    fn remote_mounts_are_read_and_checked() {
        let c = Config::from_toml(
            "[[mounts]]\npath = \"/remote/coads\"\nurl = \"http://h/coads.nc\"\nprotocol = \"dap2\"\ntimeout_secs = 5\n",
        )
        .expect("valid");
        assert_eq!(c.mounts.len(), 1);
        assert_eq!(c.mounts[0].protocol, MountProtocol::Dap2);
        assert_eq!(c.mounts[0].retries, 2);
        assert!(!c.mounts[0].is_catalog());
        let c = Config::from_toml(
            "[[mounts]]\npath = \"/t\"\nurl = \"https://h/thredds/catalog.xml\"\n[[mounts]]\npath = \"/u\"\nurl = \"http://h/c\"\nprotocol = \"catalog\"\n",
        )
        .expect("valid");
        assert!(c.mounts.iter().all(Mount::is_catalog));
        for bad in [
            "[[mounts]]\npath = \"remote\"\nurl = \"http://h/x\"",
            "[[mounts]]\npath = \"/a/../b\"\nurl = \"http://h/x\"",
            "[[mounts]]\npath = \"/a\"\nurl = \"file:///etc/passwd\"",
            "[[mounts]]\npath = \"/a\"\nurl = \"http://h/x?y=1\"",
            "[[mounts]]\npath = \"/a\"\nurl = \"http://h/x\"\nprotocol = \"dap3\"",
            "[[mounts]]\npath = \"/a\"\nurl = \"https://h/x\"\nca_file = \"/nonexistent.pem\"",
            "[[mounts]]\npath = \"/a\"\nurl = \"http://h/x\"\ntimeout_secs = 0",
            "[[mounts]]\npath = \"/a\"\nurl = \"http://h/x\"\n[[mounts]]\npath = \"/a\"\nurl = \"http://h/y\"",
        ] {
            assert!(Config::from_toml(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn remote_member_settings_are_read_and_checked() {
        let c = Config::from_toml(
            "[remote]\ntimeout_secs = 2.5\nretries = 0\n[[remote.hosts]]\nhost = \"slow.example:8080\"\ntimeout_secs = 60\n",
        )
        .expect("valid");
        let p = c.remote.policy();
        assert_eq!(p.default.timeout, Duration::from_millis(2500));
        let slow = p.settings_for("http://slow.example:8080/a.nc");
        assert_eq!((slow.timeout, slow.retries), (Duration::from_secs(60), 0));
        assert_eq!(Config::default().remote.policy().default.retries, 2);
        for bad in [
            "[remote]\ntimeout_secs = 0",
            "[remote]\nca_file = \"/nonexistent.pem\"",
            "[remote]\nurl = \"http://h/x\"",
            "[[remote.hosts]]\nhost = \"h/x\"",
            "[[remote.hosts]]\nhost = \"h\"\ntimeout_secs = -1",
        ] {
            assert!(Config::from_toml(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn object_mounts_are_read_and_checked() {
        let c = Config::from_toml(
            "[[mounts]]\npath = \"/cloud\"\nurl = \"s3://bucket/prefix\"\nendpoint = \"http://127.0.0.1:9000\"\nallow_http = true\n\
[[mounts]]\npath = \"/files\"\nurl = \"http://h/data/\"\nprotocol = \"files\"\n\
[[mounts]]\npath = \"/remote/coads\"\nurl = \"http://h/coads.nc\"\n",
        )
        .expect("valid");
        assert!(c.mounts[0].is_object() && c.mounts[1].is_object());
        assert!(!c.mounts[2].is_object());
        assert_eq!(c.mounts[0].allow_http, Some(true));
        assert!(Config::from_toml("[[mounts]]\npath = \"/\"\nurl = \"s3://b\"").is_ok());
        for bad in [
            "[[mounts]]\npath = \"/\"\nurl = \"http://h/x\"",
            "[[mounts]]\npath = \"/a\"\nurl = \"s4://b\"\nprotocol = \"files\"",
            "[[mounts]]\npath = \"/a\"\nurl = \"ftp://b/\"\nprotocol = \"files\"",
        ] {
            assert!(Config::from_toml(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn env_then_flags_override_the_file() {
        let mut c = Config::from_toml("max_response_bytes = 10\nlog = \"warn\"").expect("valid");
        c.apply_env(|k| match k {
            "FATHOM_MAX_RESPONSE_BYTES" => Some("20".into()),
            "FATHOM_CORS_ORIGINS" => Some("https://a.example, https://b.example".into()),
            _ => None,
        })
        .expect("env");
        assert_eq!(c.max_response_bytes, 20);
        assert_eq!(c.log, "warn");
        assert_eq!(c.cors_origins.len(), 2);
        c.apply_flag("max_response_bytes=30").expect("flag");
        assert_eq!(c.max_response_bytes, 30);
        c.apply_flag("compress_data=true").expect("flag");
        assert!(c.compress_data);
    }

    #[test]
    fn every_key_is_settable_by_name() {
        let mut c = Config::default();
        for key in KEYS {
            let value = match *key {
                "bind" => "127.0.0.1:1",
                "root" | "log" => "x",
                "cors_origins" => "*",
                "compress_data" | "isolate_readers" => "true",
                "log_format" => "json",
                _ => "7",
            };
            c.apply_flag(&format!("{key}={value}")).expect(key);
        }
    }
}
