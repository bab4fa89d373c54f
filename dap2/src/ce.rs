//! The DAP2 constraint-expression grammar (nom): projections, hyperslab selectors, selection
//! clauses and function calls, parsed into a [`Constraint`] without looking at any dataset.
//!
//! ```text
//! constraint := [clause {"," clause}] {"&" selection}
//! clause     := call | path
//! path       := component {"." component}
//! component  := name {"[" selector "]"}
//! selector   := int | int ":" stop | int ":" int ":" stop | "*"       stop := int | "*"
//! selection  := operand op operand          op := "=" | "!=" | "<" | "<=" | ">" | ">=" | "=~"
//! operand    := path | number | quoted string | "{" operand {"," operand} "}" | call
//! call       := name "(" [operand {"," operand}] ")"
//! name       := quoted string | word characters (percent escapes are decoded)
//! ```
//!
//! The query string is percent-decoded once before parsing (clients send `%5b`, `%5B`, `%3A`,
//! `%20`…); names are decoded once more, as libdap's `www2id` does, because the DDS prints them
//! escaped (`x%23y`) and clients send them back that way.

use nom::branch::alt;
use nom::bytes::complete::{tag, take_while1};
use nom::character::complete::{char, digit1, multispace0};
use nom::combinator::{all_consuming, map, opt, recognize};
use nom::multi::{many0, separated_list0, separated_list1};
use nom::sequence::{delimited, preceded};
use nom::{IResult, Parser};
use percent_encoding::percent_decode_str;

use crate::Error;

/// A parsed constraint expression.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Constraint {
    /// The projection clauses, in the order written; empty means "everything".
    pub projections: Vec<Projection>,
    /// The selection clauses (`&…`).
    pub selections: Vec<Selection>,
}

/// One projection clause.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Projection {
    /// A variable or a part of one: `a.b[0:2].c[1]`.
    Path(Vec<Component>),
    /// A server-side function call.
    Call(FunctionCall),
}

/// One step of a path: a name and its hyperslab selectors.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Component {
    /// The name (decoded).
    pub name: String,
    /// One selector per bracket, in order.
    pub selectors: Vec<Selector>,
}

/// `[start:stride:stop]` as written (not yet checked against any shape).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Selector {
    /// First index.
    pub start: i64,
    /// Step.
    pub stride: i64,
    /// Last index (inclusive), or the end of the dimension.
    pub stop: Stop,
}

/// The last index of a [`Selector`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// This index.
    Index(i64),
    /// The last index of the dimension (`*`).
    End,
}

/// A selection clause: `left op right`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selection {
    /// Left operand.
    pub left: Operand,
    /// The relation.
    pub op: Relation,
    /// Right operand.
    pub right: Operand,
}

/// A relational operator of a selection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Relation {
    /// `=`
    Equal,
    /// `!=`
    NotEqual,
    /// `<`
    Less,
    /// `<=`
    LessEqual,
    /// `>`
    Greater,
    /// `>=`
    GreaterEqual,
    /// `=~` (regular expression match)
    Match,
}

/// An operand of a selection or a function argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Operand {
    /// A variable.
    Path(Vec<Component>),
    /// A number, as written.
    Number(String),
    /// A quoted string (unquoted).
    Str(String),
    /// `{a, b, …}`.
    List(Vec<Operand>),
    /// A function call.
    Call(FunctionCall),
}

/// `name(args)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionCall {
    /// The function's name.
    pub name: String,
    /// Its arguments.
    pub args: Vec<Operand>,
}

/// Parses a raw (still percent-encoded) query string.
///
/// # Errors
/// [`Error::Syntax`] when the expression does not follow the grammar; [`Error::BadIndex`] when
/// an index does not fit in 64 bits.
pub fn parse(raw_query: &str) -> Result<Constraint, Error> {
    let decoded = percent_decode_str(raw_query).decode_utf8_lossy();
    let text = decoded.trim();
    if text.is_empty() {
        return Ok(Constraint::default());
    }
    // Function calls nest by recursion: bound the depth so a hostile expression cannot exhaust
    // the stack.
    let (mut depth, mut deepest) = (0usize, 0usize);
    for c in text.chars() {
        match c {
            '(' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            ')' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    if deepest > MAX_NESTING {
        return Err(Error::Syntax(format!(
            "the constraint expression nests calls more than {MAX_NESTING} levels deep"
        )));
    }
    match all_consuming(constraint).parse(text) {
        Ok((_, c)) => {
            check_indices(&c)?;
            Ok(c)
        }
        Err(e) => {
            let at = match &e {
                nom::Err::Error(e) | nom::Err::Failure(e) => text.len() - e.input.len(),
                nom::Err::Incomplete(_) => text.len(),
            };
            Err(Error::Syntax(format!(
                "the constraint expression is malformed at character {}",
                at + 1
            )))
        }
    }
}

/// The deepest nesting of function calls a constraint may have.
pub const MAX_NESTING: usize = 32;

/// Index overflow is recorded as `i64::MIN` by the number parser; report it here.
fn check_indices(c: &Constraint) -> Result<(), Error> {
    let bad = |s: &Selector| {
        s.start == i64::MIN || s.stride == i64::MIN || s.stop == Stop::Index(i64::MIN)
    };
    let path_bad = |p: &[Component]| p.iter().any(|c| c.selectors.iter().any(bad));
    for p in &c.projections {
        if let Projection::Path(path) = p
            && path_bad(path)
        {
            return Err(Error::BadIndex("an index is too large".into()));
        }
    }
    Ok(())
}

type Res<'a, T> = IResult<&'a str, T>;

fn ws<'a, O>(
    inner: impl Parser<&'a str, Output = O, Error = nom::error::Error<&'a str>>,
) -> impl Parser<&'a str, Output = O, Error = nom::error::Error<&'a str>> {
    delimited(multispace0, inner, multispace0)
}

fn constraint(input: &str) -> Res<'_, Constraint> {
    let (input, projections) = separated_list0(ws(char(',')), clause).parse(input)?;
    let (input, selections) = many0(preceded(ws(char('&')), selection)).parse(input)?;
    Ok((
        input,
        Constraint {
            projections,
            selections,
        },
    ))
}

fn clause(input: &str) -> Res<'_, Projection> {
    alt((map(call, Projection::Call), map(path, Projection::Path))).parse(input)
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || "_%!~'#+-\\/@$^?|".contains(c)
}

fn word(input: &str) -> Res<'_, String> {
    map(take_while1(is_word_char), |w: &str| {
        percent_decode_str(w).decode_utf8_lossy().into_owned()
    })
    .parse(input)
}

fn quoted(input: &str) -> Res<'_, String> {
    let (rest, _) = char('"').parse(input)?;
    let mut out = String::new();
    let mut chars = rest.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((&rest[i + 1..], out)),
            '\\' => {
                if let Some((_, next)) = chars.next() {
                    out.push(next);
                }
            }
            c => out.push(c),
        }
    }
    Err(nom::Err::Error(nom::error::Error::new(
        input,
        nom::error::ErrorKind::Char,
    )))
}

fn name(input: &str) -> Res<'_, String> {
    alt((
        map(quoted, |q| {
            percent_decode_str(&q).decode_utf8_lossy().into_owned()
        }),
        word,
    ))
    .parse(input)
}

/// An integer index; out-of-range values become `i64::MIN` so the caller can report them.
fn integer(input: &str) -> Res<'_, i64> {
    map(ws(recognize((opt(char('-')), digit1))), |s: &str| {
        s.parse::<i64>().unwrap_or(i64::MIN)
    })
    .parse(input)
}

fn stop(input: &str) -> Res<'_, Stop> {
    alt((map(ws(char('*')), |_| Stop::End), map(integer, Stop::Index))).parse(input)
}

fn selector(input: &str) -> Res<'_, Selector> {
    let whole = map(ws(char('*')), |_| Selector {
        start: 0,
        stride: 1,
        stop: Stop::End,
    });
    let ranged = map(
        (
            integer,
            opt(preceded(char(':'), stop)),
            opt(preceded(char(':'), stop)),
        ),
        |(start, second, third)| match (second, third) {
            (None, _) => Selector {
                start,
                stride: 1,
                stop: Stop::Index(start),
            },
            (Some(stop), None) => Selector {
                start,
                stride: 1,
                stop,
            },
            (Some(stride), Some(stop)) => Selector {
                start,
                // `*` as a stride is meaningless; 0 makes binding report a bad stride.
                stride: match stride {
                    Stop::Index(s) => s,
                    Stop::End => 0,
                },
                stop,
            },
        },
    );
    delimited(char('['), alt((whole, ranged)), char(']')).parse(input)
}

fn component(input: &str) -> Res<'_, Component> {
    map((name, many0(selector)), |(name, selectors)| Component {
        name,
        selectors,
    })
    .parse(input)
}

fn path(input: &str) -> Res<'_, Vec<Component>> {
    separated_list1(char('.'), component).parse(input)
}

fn call(input: &str) -> Res<'_, FunctionCall> {
    map(
        (
            word,
            delimited(
                ws(char('(')),
                separated_list0(ws(char(',')), operand),
                ws(char(')')),
            ),
        ),
        |(name, args)| FunctionCall { name, args },
    )
    .parse(input)
}

fn number(input: &str) -> Res<'_, String> {
    map(
        recognize((
            opt(alt((char('-'), char('+')))),
            digit1,
            opt((char('.'), opt(digit1))),
            opt((
                alt((char('e'), char('E'))),
                opt(alt((char('-'), char('+')))),
                digit1,
            )),
        )),
        str::to_owned,
    )
    .parse(input)
}

fn operand(input: &str) -> Res<'_, Operand> {
    ws(alt((
        map(call, Operand::Call),
        map(
            delimited(
                char('{'),
                separated_list0(ws(char(',')), operand),
                char('}'),
            ),
            Operand::List,
        ),
        map(quoted, Operand::Str),
        map(number, Operand::Number),
        map(path, Operand::Path),
    )))
    .parse(input)
}

fn relation(input: &str) -> Res<'_, Relation> {
    ws(alt((
        map(tag("=~"), |_| Relation::Match),
        map(tag("!="), |_| Relation::NotEqual),
        map(tag("<="), |_| Relation::LessEqual),
        map(tag(">="), |_| Relation::GreaterEqual),
        map(tag("="), |_| Relation::Equal),
        map(tag("<"), |_| Relation::Less),
        map(tag(">"), |_| Relation::Greater),
    )))
    .parse(input)
}

fn selection(input: &str) -> Res<'_, Selection> {
    map((operand, relation, operand), |(left, op, right)| {
        Selection { left, op, right }
    })
    .parse(input)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(start: i64, stride: i64, stop: i64) -> Selector {
        Selector {
            start,
            stride,
            stop: Stop::Index(stop),
        }
    }

    fn single(ce: &str) -> Vec<Component> {
        let c = parse(ce).expect("parses");
        assert_eq!(c.projections.len(), 1, "{ce}");
        match &c.projections[0] {
            Projection::Path(p) => p.clone(),
            Projection::Call(_) => panic!("not a path"),
        }
    }

    #[test]
    fn hyperslabs_in_every_form_and_encoding() {
        let p = single("u[0][1:3][2:2:8]");
        assert_eq!(p[0].name, "u");
        assert_eq!(
            p[0].selectors,
            vec![sel(0, 1, 0), sel(1, 1, 3), sel(2, 2, 8)]
        );
        assert_eq!(single("u%5b0%5d%5b0%5d%5b0:20%5d"), single("u[0][0][0:20]"));
        assert_eq!(single("u%5B0%3A1%3A15%5D"), single("u[0:1:15]"));
        assert_eq!(single("u[ 0 : 2 ]"), single("u[0:2]"));
        assert_eq!(
            single("i[1:2][*]")[0].selectors[1],
            Selector {
                start: 0,
                stride: 1,
                stop: Stop::End
            }
        );
    }

    #[test]
    fn paths_quotes_and_escaped_names() {
        let p = single("g.val[0:1]");
        assert_eq!(p.len(), 2);
        assert_eq!(p[1].name, "val");
        assert_eq!(single("\"data%23i\"[0:2:9]")[0].name, "data#i");
        assert_eq!(single("data%2523i")[0].name, "data#i");
        assert_eq!(single("%22data%20name%22")[0].name, "data name");
        let c = parse("SST.SST,AIRT.AIRT,VWND,VWND").expect("parses");
        assert_eq!(c.projections.len(), 4);
    }

    #[test]
    fn selections_and_calls() {
        let c = parse("i,j&i>2000&s=~\"^Silly.*\"").expect("parses");
        assert_eq!(c.projections.len(), 2);
        assert_eq!(c.selections.len(), 2);
        assert_eq!(c.selections[0].op, Relation::Greater);
        assert_eq!(c.selections[1].right, Operand::Str("^Silly.*".into()));
        let c = parse("&i<0").expect("parses");
        assert!(c.projections.is_empty());
        let c = parse("scale(i[2:4][3:6],2)").expect("parses");
        assert!(
            matches!(&c.projections[0], Projection::Call(f) if f.name == "scale" && f.args.len() == 2)
        );
        let c = parse("test(\"netcdf_test\")").expect("parses");
        assert!(matches!(&c.projections[0], Projection::Call(f) if f.name == "test"));
    }

    #[test]
    fn deep_nesting_is_refused_before_parsing() {
        let deep = format!("{}x{}", "f(".repeat(50_000), ")".repeat(50_000));
        assert!(matches!(parse(&deep), Err(Error::Syntax(m)) if m.contains("nests")));
        assert!(parse(&"(".repeat(50_000)).is_err());
    }

    #[test]
    fn malformed_expressions_are_errors() {
        for bad in [
            "u[",
            "u[0",
            "u[a]",
            "u]",
            ",",
            "u,,v",
            "u[0:1:2:3]",
            "u&",
            "(x)",
        ] {
            assert!(matches!(parse(bad), Err(Error::Syntax(_))), "{bad}");
        }
        assert!(matches!(
            parse("u[99999999999999999999]"),
            Err(Error::BadIndex(_))
        ));
    }
}
