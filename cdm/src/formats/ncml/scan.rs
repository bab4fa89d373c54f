//! `<scan>`: the files of a folder that join an aggregation, filtered (suffix, regExp, subdirs,
//! olderThan) and sorted as THREDDS sorts them (by path; by date when a `dateFormatMark` gives
//! one), plus the small parsers it needs (durations, dates in file names).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// One file a scan found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Found {
    /// The canonical path.
    pub path: PathBuf,
    /// The date read from its name with the `dateFormatMark`, as ISO 8601 (`…Z`).
    pub date: Option<String>,
}

/// A scan with its values checked.
#[derive(Clone, Debug)]
pub(crate) struct Scan {
    /// The canonical folder.
    pub dir: PathBuf,
    pub suffix: Option<String>,
    pub reg_exp: Option<regex::Regex>,
    pub subdirs: bool,
    pub older_than: Option<Duration>,
    pub date_format_mark: Option<DateFormatMark>,
}

impl Scan {
    /// The files the scan selects, sorted. Files outside `root` (through symlinks) are skipped.
    pub(crate) fn run(&self, root: &Path) -> std::io::Result<Vec<Found>> {
        let mut found = Vec::new();
        self.walk(&self.dir, root, &mut found)?;
        let mut out: Vec<Found> = found
            .into_iter()
            .map(|path| {
                let date = self.date_format_mark.as_ref().and_then(|m| {
                    path.file_name()
                        .and_then(|n| n.to_str())
                        .and_then(|n| m.date_of(n))
                });
                Found { path, date }
            })
            .collect();
        if self.date_format_mark.is_some() {
            out.sort_by(|a, b| a.date.cmp(&b.date).then_with(|| a.path.cmp(&b.path)));
        } else {
            out.sort_by(|a, b| a.path.cmp(&b.path));
        }
        Ok(out)
    }

    fn walk(&self, dir: &Path, root: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
        let now = SystemTime::now();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.starts_with('.') {
                continue;
            }
            let Ok(real) = std::fs::canonicalize(entry.path()) else {
                continue;
            };
            if !real.starts_with(root) {
                continue;
            }
            let Ok(meta) = std::fs::metadata(&real) else {
                continue;
            };
            if meta.is_dir() {
                if self.subdirs {
                    self.walk(&real, root, out)?;
                }
                continue;
            }
            if let Some(suffix) = &self.suffix
                && !name.ends_with(suffix.as_str())
            {
                continue;
            }
            if let Some(re) = &self.reg_exp {
                let full = entry.path();
                let full = full.to_string_lossy();
                if !re.is_match(name) && !re.is_match(&full) {
                    continue;
                }
            }
            if let Some(age) = self.older_than {
                let modified = meta.modified()?;
                if now.duration_since(modified).unwrap_or_default() < age {
                    continue;
                }
            }
            out.push(real);
        }
        Ok(())
    }
}

/// Parses an NcML duration (`"15 min"`, `"1 hour"`, `"30 sec"`, `"2 days"`).
pub(crate) fn duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("\"{text}\" is not a duration like \"15 min\""))?;
    let unit = unit.trim().to_ascii_lowercase();
    let secs = match unit.as_str() {
        "ms" | "msec" | "msecs" | "millisecond" | "milliseconds" => 0.001,
        "s" | "sec" | "secs" | "second" | "seconds" => 1.0,
        "m" | "min" | "mins" | "minute" | "minutes" => 60.0,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3600.0,
        "d" | "day" | "days" => 86_400.0,
        "week" | "weeks" => 604_800.0,
        _ => return Err(format!("\"{text}\": unknown time unit \"{unit}\"")),
    };
    Duration::try_from_secs_f64(n * secs).map_err(|_| format!("\"{text}\" is out of range"))
}

/// A `dateFormatMark`: `skip#pattern`, the date being the characters of a file name after as
/// many characters as `skip` has (THREDDS counts them; it does not match them), read with a Java `SimpleDateFormat` pattern (`yyyy MM dd DDD HH mm ss`, literals).
#[derive(Clone, Debug)]
pub(crate) struct DateFormatMark {
    prefix: String,
    fields: Vec<Field>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Field {
    Year(usize),
    Month(usize),
    Day(usize),
    DayOfYear(usize),
    Hour(usize),
    Minute(usize),
    Second(usize),
    Literal(char),
}

impl DateFormatMark {
    /// Parses `prefix#pattern`.
    pub(crate) fn parse(mark: &str) -> Result<Self, String> {
        let (prefix, pattern) = mark
            .split_once('#')
            .ok_or_else(|| format!("dateFormatMark \"{mark}\" has no '#'"))?;
        let mut fields = Vec::new();
        let chars: Vec<char> = pattern.chars().collect();
        let mut i = 0;
        let mut in_quote = false;
        while i < chars.len() {
            let c = chars[i];
            if c == '\'' {
                in_quote = !in_quote;
                i += 1;
                continue;
            }
            if in_quote || !c.is_ascii_alphabetic() {
                fields.push(Field::Literal(c));
                i += 1;
                continue;
            }
            let mut n = 1;
            while i + n < chars.len() && chars[i + n] == c {
                n += 1;
            }
            fields.push(match c {
                'y' => Field::Year(n),
                'M' => Field::Month(n),
                'd' => Field::Day(n),
                'D' => Field::DayOfYear(n),
                'H' => Field::Hour(n),
                'm' => Field::Minute(n),
                's' => Field::Second(n),
                other => {
                    return Err(format!(
                        "dateFormatMark \"{mark}\": pattern letter '{other}' is not supported"
                    ));
                }
            });
            i += n;
        }
        if !fields.iter().any(|f| matches!(f, Field::Year(_))) {
            return Err(format!("dateFormatMark \"{mark}\" has no year (yyyy)"));
        }
        Ok(Self {
            prefix: prefix.to_owned(),
            fields,
        })
    }

    /// The date in `name` as ISO 8601, or `None` when the name does not follow the mark.
    pub(crate) fn date_of(&self, name: &str) -> Option<String> {
        let start = name.char_indices().nth(self.prefix.chars().count())?.0;
        let mut rest = name.get(start..)?;
        let (mut y, mut mo, mut d, mut doy, mut h, mut mi, mut s) =
            (0i64, 1u32, 1u32, None, 0, 0, 0);
        for f in &self.fields {
            let (width, slot) = match f {
                Field::Literal(c) => {
                    rest = rest.strip_prefix(*c)?;
                    continue;
                }
                Field::Year(n) => (*n, 0),
                Field::Month(n) => (*n, 1),
                Field::Day(n) => (*n, 2),
                Field::DayOfYear(n) => (*n, 3),
                Field::Hour(n) => (*n, 4),
                Field::Minute(n) => (*n, 5),
                Field::Second(n) => (*n, 6),
            };
            let digits = rest.get(..width)?;
            if !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let v: u32 = digits.parse().ok()?;
            rest = &rest[width..];
            match slot {
                0 => y = i64::from(v),
                1 => mo = v,
                2 => d = v,
                3 => doy = Some(v),
                4 => h = v,
                5 => mi = v,
                _ => s = v,
            }
        }
        if let Some(doy) = doy {
            (mo, d) = month_day(y, doy)?;
        }
        if !(1..=12).contains(&mo)
            || d == 0
            || d > days_in_month(y, mo)
            || h > 23
            || mi > 59
            || s > 60
        {
            return None;
        }
        Some(format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z"))
    }
}

fn leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

fn month_day(y: i64, doy: u32) -> Option<(u32, u32)> {
    let mut left = doy;
    for m in 1..=12 {
        let n = days_in_month(y, m);
        if left >= 1 && left <= n {
            return Some((m, left));
        }
        left = left.checked_sub(n)?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_ncml_writes_them() {
        assert_eq!(duration("15 min"), Ok(Duration::from_secs(900)));
        assert_eq!(duration("1 hour"), Ok(Duration::from_secs(3600)));
        assert_eq!(duration("2sec"), Ok(Duration::from_secs(2)));
        assert!(duration("soon").is_err());
        assert!(duration("5 fortnights").is_err());
    }

    #[test]
    fn dates_come_from_file_names() {
        let m = DateFormatMark::parse("CG#yyyyDDD_HHmmss").expect("mark");
        assert_eq!(
            m.date_of("CG2006158_120000h_usfc.nc").as_deref(),
            Some("2006-06-07T12:00:00Z")
        );
        let m = DateFormatMark::parse("A_CG#yyyyDDD_HHmmss").expect("mark");
        assert_eq!(
            m.date_of("W_CG2006158_150000h_usfc.nc").as_deref(),
            Some("2006-06-07T15:00:00Z")
        );
        let m = DateFormatMark::parse("sst_#yyyy-MM").expect("mark");
        assert_eq!(
            m.date_of("sst_2020-02.nc").as_deref(),
            Some("2020-02-01T00:00:00Z")
        );
        assert_eq!(m.date_of("sst_2020-13.nc"), None);
        assert!(DateFormatMark::parse("nohash").is_err());
        assert!(DateFormatMark::parse("x#yyyyQQ").is_err());
    }
}
