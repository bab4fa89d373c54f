//! The DAP4 constraint expression (`dap4.ce`) grammar: text → [`Expression`], nothing more.
//!
//! What is understood (DAP4 spec §8, and what netcdf-c, pydap, Hyrax and TDS send):
//!
//! ```text
//! expression := clause (';' clause)*            empty clauses are skipped
//! clause     := name '=' subscript               a shared-dimension constraint: /lat=[0:2:10]
//!             | selector
//! selector   := segment ('.' segment)* fields?   /g/v[0:2][], /s[1].f, /s{f;g}
//! segment    := name subscript*                  '.' steps into a Structure's fields
//! fields     := '{' selector (';' selector)* '}'
//! subscript  := '[' ']' | '[' slice (',' slice)* ']'      [] is the whole dimension
//! slice      := n | n ':' m | n ':' s ':' m | n ':' | n ':' s ':'   (stop inclusive)
//! ```
//!
//! A `\` escapes the next character of a name. Filters (`|`) are recognised only to be refused
//! with [`Error::Filter`] (the binding step says whether the variable could have one); server
//! functions (`f(…)`) with [`Error::Constraint`], as this server has none. An expression of
//! separators only (`;;;`) is an error, not the whole dataset. Percent-decoding happens before
//! this parser sees the text (see [`crate::query`]). Binding the names to a dataset is
//! [`crate::constraint`]'s job.

use nom::branch::alt;
use nom::character::complete::{char, digit1, multispace0};
use nom::combinator::{map, opt};
use nom::error::{ErrorKind, ParseError};
use nom::multi::separated_list1;
use nom::sequence::{delimited, preceded};
use nom::{IResult, Parser};

use crate::error::{Error, Result};

/// A parsed constraint expression.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Expression {
    /// The clauses, in the order written.
    pub clauses: Vec<Clause>,
}

/// One `;`-separated part of an expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Clause {
    /// `/lat=[0:2:10]`: every projected variable that uses the shared dimension sees only this
    /// part of it.
    Dimension {
        /// The dimension's name as written (fully qualified or relative to the root).
        name: String,
        /// Its slices.
        subscript: Subscript,
    },
    /// A variable (or some fields of a Structure variable) to return.
    Variable(Selector),
}

/// A variable or field reference with its slices and, for Structures, its chosen fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selector {
    /// The name split at unescaped dots, each part with its own subscripts: `/g/s[1].f` is
    /// `[("/g/s", [1]), ("f", [])]`. The first segments hold the group path and the variable's
    /// name (which may itself contain dots); later ones name fields.
    pub path: Vec<Segment>,
    /// `{…}`: the fields to keep, or `None` for all of them.
    pub fields: Option<Vec<Selector>>,
}

impl Selector {
    /// The name as written, without subscripts.
    #[must_use]
    pub fn name(&self) -> String {
        self.path
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(".")
    }
}

/// One dot-separated part of a selector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    /// The name, with escapes removed.
    pub name: String,
    /// One entry per `[…]` after it, slowest dimension first; may be fewer than the dimensions.
    pub subscripts: Vec<Subscript>,
}

/// The slices inside one pair of brackets; empty for `[]` (the whole dimension). More than one
/// slice (`[0:1,3]`) selects their indices one after the other.
pub type Subscript = Vec<Slice>;

/// `start:stride:stop`, stop inclusive; `None` stop means "to the end of the dimension".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slice {
    /// First index.
    pub start: u64,
    /// Step, as written (validated when bound: it must be at least 1).
    pub stride: u64,
    /// Last index (inclusive), or the end of the dimension.
    pub stop: Option<u64>,
}

/// A parse failure: where, and what was expected there.
#[derive(Debug, PartialEq)]
struct Failure<'a> {
    /// The input from the failure onwards.
    at: &'a str,
    /// What the parser wanted to see.
    expected: String,
}

impl<'a> ParseError<&'a str> for Failure<'a> {
    fn from_error_kind(at: &'a str, kind: ErrorKind) -> Self {
        Self {
            at,
            expected: kind.description().to_lowercase(),
        }
    }

    fn append(_: &'a str, _: ErrorKind, other: Self) -> Self {
        other
    }

    fn from_char(at: &'a str, c: char) -> Self {
        Self {
            at,
            expected: format!("'{c}'"),
        }
    }

    fn or(self, other: Self) -> Self {
        // Report the branch that got furthest.
        if other.at.len() <= self.at.len() {
            other
        } else {
            self
        }
    }
}

type Parsed<'a, T> = IResult<&'a str, T, Failure<'a>>;

/// Replaces the description of a failure of `parser` with `what`.
fn expecting<'a, O>(
    what: &'static str,
    mut parser: impl Parser<&'a str, Output = O, Error = Failure<'a>>,
) -> impl FnMut(&'a str) -> Parsed<'a, O> {
    move |input| {
        parser.parse(input).map_err(|e| {
            e.map(|mut f| {
                f.expected = what.into();
                f
            })
        })
    }
}

/// Characters that end a name unless escaped.
fn ends_name(c: char) -> bool {
    matches!(
        c,
        '[' | ']' | '{' | '}' | ';' | '=' | '|' | ',' | '(' | ')' | '.' | '&'
    )
}

/// One dot-free name segment, with `\` escapes removed and surrounding spaces trimmed.
fn segment(input: &str) -> Parsed<'_, String> {
    let mut out = String::new();
    let mut chars = input.char_indices();
    let mut end = input.len();
    while let Some((i, c)) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some((_, escaped)) => out.push(escaped),
                None => {
                    return Err(nom::Err::Failure(Failure {
                        at: &input[i..],
                        expected: "a character after '\\'".into(),
                    }));
                }
            }
        } else if ends_name(c) {
            end = i;
            break;
        } else {
            out.push(c);
        }
    }
    let trimmed = out.trim();
    if trimmed.is_empty() {
        return Err(nom::Err::Error(Failure {
            at: input,
            expected: "a name".into(),
        }));
    }
    Ok((&input[end..], trimmed.to_owned()))
}

fn number(input: &str) -> Parsed<'_, u64> {
    let (rest, digits) = expecting(
        "a non-negative index",
        delimited(multispace0, digit1, multispace0),
    )(input)?;
    let n = digits.parse::<u64>().map_err(|_| {
        nom::Err::Failure(Failure {
            at: input.trim_start(),
            expected: "a number below 2^64".into(),
        })
    })?;
    Ok((rest, n))
}

/// `n`, `n:m`, `n:s:m`, `n:`, `n:s:`.
fn slice(input: &str) -> Parsed<'_, Slice> {
    let (rest, start) = number(input)?;
    let (rest, tail) = opt(preceded(
        char(':'),
        (opt(number), opt(preceded(char(':'), opt(number)))),
    ))
    .parse(rest)?;
    let slice = match tail {
        None => Slice {
            start,
            stride: 1,
            stop: Some(start),
        },
        // n:m or n:
        Some((stop, None)) => Slice {
            start,
            stride: 1,
            stop,
        },
        // n:s:m or n:s:
        Some((Some(stride), Some(stop))) => Slice {
            start,
            stride,
            stop,
        },
        Some((None, Some(_))) => {
            return Err(nom::Err::Failure(Failure {
                at: rest,
                expected: "a stride between the colons".into(),
            }));
        }
    };
    Ok((rest, slice))
}

fn subscript(input: &str) -> Parsed<'_, Subscript> {
    let (rest, _) = preceded(multispace0, char('[')).parse(input)?;
    let (rest, slices) = alt((
        map(preceded(multispace0, char(']')), |_| Vec::new()),
        nom::sequence::terminated(
            separated_list1(char(','), slice),
            expecting("']' or ','", char(']')),
        ),
    ))
    .parse(rest)
    .map_err(|e| match e {
        // Inside brackets there is no other way to go: report the failure as final.
        nom::Err::Error(f) => nom::Err::Failure(f),
        other => other,
    })?;
    Ok((rest, slices))
}

fn subscripts(mut input: &str) -> Parsed<'_, Vec<Subscript>> {
    let mut out = Vec::new();
    loop {
        match subscript(input) {
            Ok((rest, s)) => {
                out.push(s);
                input = rest;
            }
            Err(nom::Err::Error(_)) => return Ok((input, out)),
            Err(e) => return Err(e),
        }
    }
}

fn fields(input: &str) -> Parsed<'_, Vec<Selector>> {
    let (rest, _) = preceded(multispace0, char('{')).parse(input)?;
    let (rest, list) = separated_list1(preceded(multispace0, char(';')), selector)
        .parse(rest)
        .map_err(|e| match e {
            nom::Err::Error(f) => nom::Err::Failure(f),
            other => other,
        })?;
    let (rest, _) = preceded(multispace0, char('}')).parse(rest).map_err(
        |e: nom::Err<Failure<'_>>| match e {
            nom::Err::Error(f) => nom::Err::Failure(Failure {
                expected: "'}' or ';'".into(),
                ..f
            }),
            other => other,
        },
    )?;
    Ok((rest, list))
}

fn subscripted_segment(input: &str) -> Parsed<'_, Segment> {
    let (rest, name) = segment(input)?;
    refuse_function(rest)?;
    let (rest, subscripts) = subscripts(rest)?;
    Ok((rest, Segment { name, subscripts }))
}

fn selector(input: &str) -> Parsed<'_, Selector> {
    let (rest, path) = separated_list1(char('.'), subscripted_segment).parse(input)?;
    let (rest, fields) = opt(fields).parse(rest)?;
    Ok((rest, Selector { path, fields }))
}

/// `name(` starts a server function call, which fathom does not run.
fn refuse_function(rest: &str) -> Parsed<'_, ()> {
    if rest.trim_start().starts_with('(') {
        return Err(nom::Err::Failure(Failure {
            at: rest,
            expected: "FUNCTION".into(),
        }));
    }
    Ok((rest, ()))
}

fn clause(input: &str) -> Parsed<'_, Clause> {
    let (rest, sel) = selector(input)?;
    let after = rest.trim_start();
    if let Some(after_eq) = after.strip_prefix('=') {
        if sel.path.len() != 1 || !sel.path[0].subscripts.is_empty() || sel.fields.is_some() {
            return Err(nom::Err::Failure(Failure {
                at: rest,
                expected: "a plain dimension name before '='".into(),
            }));
        }
        let (rest, sub) = expecting("a subscript like [0:2:10] after '='", subscript)(after_eq)?;
        let name = sel.name();
        return Ok((
            rest,
            Clause::Dimension {
                name,
                subscript: sub,
            },
        ));
    }
    if after.starts_with('|') {
        return Err(nom::Err::Failure(Failure {
            at: after,
            expected: format!("FILTER {}", sel.name()),
        }));
    }
    Ok((rest, Clause::Variable(sel)))
}

/// Parses a (percent-decoded) `dap4.ce` value.
///
/// # Errors
/// [`Error::Constraint`] with the position of the first problem, or [`Error::NotSupported`]
/// for filters and function calls.
pub fn parse(text: &str) -> Result<Expression> {
    // Field lists nest by recursion: a bound on their depth keeps a hostile expression from
    // exhausting the stack (structures nest a few levels in real files).
    if nesting_depth(text, '{', '}') > MAX_NESTING {
        return Err(Error::Constraint(format!(
            "field selections nest more than {MAX_NESTING} levels deep"
        )));
    }
    let mut clauses = Vec::new();
    let mut rest = text;
    loop {
        let trimmed = rest.trim_start();
        if let Some(next) = trimmed.strip_prefix(';') {
            rest = next;
            continue;
        }
        if trimmed.is_empty() {
            if clauses.is_empty() && !text.trim().is_empty() {
                // Only separators (`;;;`): a mistake, not a request for everything.
                return Err(Error::Constraint(
                    "dap4.ce has no clause, only ';' separators; leave dap4.ce out to ask for \
                     the whole dataset"
                        .into(),
                ));
            }
            return Ok(Expression { clauses });
        }
        match clause(trimmed) {
            Ok((after, c)) => {
                clauses.push(c);
                let after = after.trim_start();
                if !after.is_empty() && !after.starts_with(';') {
                    return Err(failure(
                        text,
                        &Failure {
                            at: after,
                            expected: "';' or the end of the expression".into(),
                        },
                    ));
                }
                rest = after;
            }
            Err(nom::Err::Error(f) | nom::Err::Failure(f)) => return Err(failure(text, &f)),
            Err(nom::Err::Incomplete(_)) => {
                return Err(Error::Constraint("the expression ends too early".into()));
            }
        }
    }
}

/// The deepest field-list nesting a constraint may have.
pub const MAX_NESTING: usize = 32;

/// The greatest number of `open` characters not yet closed at any point of `text`.
fn nesting_depth(text: &str, open: char, close: char) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    for c in text.chars() {
        if c == open {
            depth += 1;
            max = max.max(depth);
        } else if c == close {
            depth = depth.saturating_sub(1);
        }
    }
    max
}

fn failure(text: &str, f: &Failure<'_>) -> Error {
    let position = text.len() - f.at.len();
    let column = text[..position].chars().count() + 1;
    if let Some(variable) = f.expected.strip_prefix("FILTER ") {
        return Error::Filter {
            variable: variable.to_owned(),
            column,
        };
    }
    match f.expected.as_str() {
        "FUNCTION" => Error::Constraint(format!(
            "unknown function at character {column} of dap4.ce: this server has no server \
             functions; ask for variables, slices and Structure fields"
        )),
        _ => {
            let found: String = f.at.chars().take(20).collect();
            let found = if found.is_empty() {
                "the end".to_owned()
            } else {
                format!("'{found}'")
            };
            Error::Constraint(format!(
                "expected {} at character {column} of dap4.ce, found {found}",
                f.expected
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A selector whose last segment carries `subscripts`.
    fn sel(path: &[&str], subscripts: Vec<Subscript>) -> Clause {
        let mut path: Vec<Segment> = path
            .iter()
            .map(|s| Segment {
                name: (*s).to_owned(),
                subscripts: vec![],
            })
            .collect();
        if let Some(last) = path.last_mut() {
            last.subscripts = subscripts;
        }
        Clause::Variable(Selector { path, fields: None })
    }

    fn s(start: u64, stride: u64, stop: Option<u64>) -> Slice {
        Slice {
            start,
            stride,
            stop,
        }
    }

    #[test]
    fn projections_and_slices() {
        let e = parse("/g/v[0:2:10][3][];/t[1:];u[2:3:]").expect("valid");
        assert_eq!(
            e.clauses,
            vec![
                sel(
                    &["/g/v"],
                    vec![vec![s(0, 2, Some(10))], vec![s(3, 1, Some(3))], vec![]]
                ),
                sel(&["/t"], vec![vec![s(1, 1, None)]]),
                sel(&["u"], vec![vec![s(2, 3, None)]]),
            ]
        );
    }

    #[test]
    fn index_lists_dimension_constraints_and_fields() {
        let e = parse("/lat=[0:2:10];/v16[0:1,3];/s{x;inner{y}};/s.x").expect("valid");
        assert_eq!(
            e.clauses[0],
            Clause::Dimension {
                name: "/lat".into(),
                subscript: vec![s(0, 2, Some(10))]
            }
        );
        assert_eq!(
            e.clauses[1],
            sel(&["/v16"], vec![vec![s(0, 1, Some(1)), s(3, 1, Some(3))]])
        );
        let Clause::Variable(structure) = &e.clauses[2] else {
            panic!("not a variable: {:?}", e.clauses[2]);
        };
        let fields = structure.fields.as_ref().expect("fields");
        assert_eq!(fields[0].name(), "x");
        assert_eq!(fields[1].name(), "inner");
        assert_eq!(
            fields[1].fields.as_ref().map(|f| f[0].name()),
            Some("y".to_owned())
        );
        assert_eq!(e.clauses[3], sel(&["/s", "x"], vec![]));
        // Subscripts may follow any segment.
        let e = parse("/s[1:2].f[0]").expect("valid");
        let Clause::Variable(v) = &e.clauses[0] else {
            panic!("not a variable");
        };
        assert_eq!(v.path[0].subscripts, vec![vec![s(1, 1, Some(2))]]);
        assert_eq!(v.path[1].subscripts, vec![vec![s(0, 1, Some(0))]]);
    }

    #[test]
    fn escapes_spaces_and_empty_clauses() {
        let e = parse(" ;/a\\.b[ 1 : 2 ] ; ;/sea surface;").expect("valid");
        assert_eq!(
            e.clauses,
            vec![
                sel(&["/a.b"], vec![vec![s(1, 1, Some(2))]]),
                sel(&["/sea surface"], vec![]),
            ]
        );
        assert_eq!(parse("").expect("empty").clauses, vec![]);
    }

    #[test]
    fn errors_say_where_and_what() {
        for (bad, needle) in [
            ("/v[", "character 4"),
            ("/v[1", "']' or ','"),
            ("/v[-1]", "non-negative index"),
            ("/v[1::3]", "stride between the colons"),
            ("/v[99999999999999999999]", "below 2^64"),
            ("/v]", "';' or the end"),
            ("/s{x", "'}' or ';'"),
            ("/d[1]=[2]", "plain dimension name"),
            ("/d=3", "subscript"),
            ("/v\\", "after '\\'"),
        ] {
            match parse(bad) {
                Err(Error::Constraint(m)) => assert!(m.contains(needle), "{bad}: {m}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn deep_nesting_is_refused_before_parsing() {
        let deep = format!("x{}{}", "{x".repeat(20_000), "}".repeat(20_000));
        assert!(matches!(parse(&deep), Err(Error::Constraint(m)) if m.contains("nest")));
        let fine = format!(
            "s{}{}",
            "{x".repeat(MAX_NESTING - 1),
            "}".repeat(MAX_NESTING - 1)
        );
        assert!(parse(&fine).is_ok());
    }

    #[test]
    fn filters_and_functions_are_refused() {
        assert!(
            matches!(parse("/v|v>3"), Err(Error::Filter { variable, column: 3 }) if variable == "/v")
        );
        assert!(
            matches!(parse("/v[0]|v>3"), Err(Error::Filter { variable, .. }) if variable == "/v")
        );
        assert!(
            matches!(parse("linear_scale(/v)"), Err(Error::Constraint(m)) if m.contains("no server functions"))
        );
        assert!(matches!(parse(";;;"), Err(Error::Constraint(m)) if m.contains("no clause")));
        assert!(matches!(parse(" ; "), Err(Error::Constraint(_))));
        assert!(parse("/a;;/b;").is_ok_and(|e| e.clauses.len() == 2));
    }
}
