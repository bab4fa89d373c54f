//! DAP2 text responses as a client reads them: the DDS grammar (base types, arrays, Structure,
//! Sequence, Grid) and the DAS grammar (nested attribute containers), and the mapping of both
//! into the CDM model.

use std::collections::HashMap;

use crate::error::{Error, Result};
use crate::model::{
    AttrValue, Attribute, DataType, Dataset, Dimension, Field, Format, Group, Storage,
    StructureType, VarDim, Variable,
};

/// A DAP2 base type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BaseType {
    Byte,
    Int16,
    UInt16,
    Int32,
    UInt32,
    Float32,
    Float64,
    String,
    Url,
}

impl BaseType {
    fn parse(word: &str) -> Option<Self> {
        Some(match word.to_ascii_lowercase().as_str() {
            "byte" => Self::Byte,
            "int16" => Self::Int16,
            "uint16" => Self::UInt16,
            "int32" => Self::Int32,
            "uint32" => Self::UInt32,
            "float32" => Self::Float32,
            "float64" => Self::Float64,
            "string" => Self::String,
            "url" => Self::Url,
            _ => return None,
        })
    }

    /// The CDM type; `Byte` is unsigned in DAP2.
    pub(crate) fn cdm(self) -> DataType {
        match self {
            Self::Byte => DataType::UInt8,
            Self::Int16 => DataType::Int16,
            Self::UInt16 => DataType::UInt16,
            Self::Int32 => DataType::Int32,
            Self::UInt32 => DataType::UInt32,
            Self::Float32 => DataType::Float32,
            Self::Float64 => DataType::Float64,
            Self::String | Self::Url => DataType::String,
        }
    }
}

/// One array dimension of a declaration: its name (if any) and length.
pub(crate) type Dim = (Option<String>, usize);

/// One declaration of a DDS.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Decl {
    Base {
        dtype: BaseType,
        name: String,
        dims: Vec<Dim>,
    },
    Structure {
        name: String,
        members: Vec<Decl>,
        dims: Vec<Dim>,
    },
    Sequence {
        name: String,
        members: Vec<Decl>,
    },
    Grid {
        name: String,
        array: Box<Decl>,
        maps: Vec<Decl>,
    },
}

impl Decl {
    pub(crate) fn name(&self) -> &str {
        match self {
            Self::Base { name, .. }
            | Self::Structure { name, .. }
            | Self::Sequence { name, .. }
            | Self::Grid { name, .. } => name,
        }
    }
}

/// A parsed DDS: the dataset's name and its declarations.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Dds {
    pub(crate) name: String,
    pub(crate) decls: Vec<Decl>,
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Punct(char),
    Word(String),
    Quoted(String),
}

fn tokenize(text: &str) -> Result<Vec<Token>> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if "{}[];=:,".contains(c) {
            out.push(Token::Punct(c));
            chars.next();
        } else if c == '"' {
            chars.next();
            let mut s = String::new();
            loop {
                match chars.next() {
                    None => return Err(bad("unterminated string")),
                    Some('"') => break,
                    Some('\\') => {
                        if let Some(n) = chars.next() {
                            s.push(n);
                        }
                    }
                    Some(ch) => s.push(ch),
                }
            }
            out.push(Token::Quoted(s));
        } else if c == '#' {
            // A comment to the end of the line.
            for ch in chars.by_ref() {
                if ch == '\n' {
                    break;
                }
            }
        } else {
            let mut w = String::new();
            while let Some(&ch) = chars.peek() {
                if ch.is_whitespace() || "{}[];=:,\"".contains(ch) {
                    break;
                }
                w.push(ch);
                chars.next();
            }
            out.push(Token::Word(w));
        }
    }
    Ok(out)
}

fn bad(what: &str) -> Error {
    Error::Upstream(format!("the remote DAP2 metadata is malformed: {what}"))
}

/// A cursor over tokens.
struct Tokens {
    tokens: Vec<Token>,
    pos: usize,
}

impl Tokens {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }
    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }
    fn punct(&mut self, c: char) -> Result<()> {
        match self.next() {
            Some(Token::Punct(p)) if p == c => Ok(()),
            other => Err(bad(&format!("expected '{c}', found {other:?}"))),
        }
    }
    fn is_punct(&self, c: char) -> bool {
        matches!(self.peek(), Some(Token::Punct(p)) if *p == c)
    }
    fn word(&mut self) -> Result<String> {
        match self.next() {
            Some(Token::Word(w) | Token::Quoted(w)) => Ok(w),
            other => Err(bad(&format!("expected a name, found {other:?}"))),
        }
    }
}

/// Names in a DDS are `%`-escaped (libdap `id2www`).
fn unescape_name(w: &str) -> String {
    percent_encoding::percent_decode_str(w)
        .decode_utf8_lossy()
        .into_owned()
}

/// Parses a DDS document.
///
/// # Errors
/// [`Error::Upstream`] when it does not follow the grammar.
pub(crate) fn parse_dds(text: &str) -> Result<Dds> {
    let mut t = Tokens {
        tokens: tokenize(text)?,
        pos: 0,
    };
    let head = t.word()?;
    if !head.eq_ignore_ascii_case("dataset") {
        return Err(bad("a DDS starts with Dataset"));
    }
    t.punct('{')?;
    let decls = decls(&mut t)?;
    t.punct('}')?;
    let name = if t.is_punct(';') {
        String::new()
    } else {
        unescape_name(&t.word()?)
    };
    Ok(Dds { name, decls })
}

fn decls(t: &mut Tokens) -> Result<Vec<Decl>> {
    let mut out = Vec::new();
    while !t.is_punct('}') {
        if t.peek().is_none() {
            return Err(bad("unexpected end"));
        }
        out.push(decl(t)?);
    }
    Ok(out)
}

fn dims(t: &mut Tokens) -> Result<Vec<Dim>> {
    let mut out = Vec::new();
    while t.is_punct('[') {
        t.punct('[')?;
        let first = t.word()?;
        let dim = if t.is_punct('=') {
            t.punct('=')?;
            let n = t.word()?;
            (Some(unescape_name(&first)), size(&n)?)
        } else {
            (None, size(&first)?)
        };
        t.punct(']')?;
        out.push(dim);
    }
    Ok(out)
}

fn size(w: &str) -> Result<usize> {
    w.parse()
        .map_err(|_| bad(&format!("{w:?} is not a dimension size")))
}

fn decl(t: &mut Tokens) -> Result<Decl> {
    let kind = t.word()?;
    let lower = kind.to_ascii_lowercase();
    let d = match lower.as_str() {
        "structure" | "sequence" => {
            t.punct('{')?;
            let members = decls(t)?;
            t.punct('}')?;
            let name = unescape_name(&t.word()?);
            if lower == "sequence" {
                Decl::Sequence { name, members }
            } else {
                let dims = dims(t)?;
                Decl::Structure {
                    name,
                    members,
                    dims,
                }
            }
        }
        "grid" => {
            t.punct('{')?;
            let label = t.word()?;
            if !label.eq_ignore_ascii_case("array") {
                return Err(bad("a Grid starts with Array:"));
            }
            t.punct(':')?;
            let array = Box::new(decl(t)?);
            let label = t.word()?;
            if !label.eq_ignore_ascii_case("maps") {
                return Err(bad("a Grid's maps start with Maps:"));
            }
            t.punct(':')?;
            let maps = decls(t)?;
            t.punct('}')?;
            let name = unescape_name(&t.word()?);
            Decl::Grid { name, array, maps }
        }
        _ => {
            let dtype = BaseType::parse(&kind)
                .ok_or_else(|| Error::Upstream(format!("unknown DAP2 type {kind:?}")))?;
            let name = unescape_name(&t.word()?);
            let dims = dims(t)?;
            Decl::Base { dtype, name, dims }
        }
    };
    t.punct(';')?;
    Ok(d)
}

/// A DAS: containers of attributes, nested.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Das {
    pub(crate) attributes: Vec<Attribute>,
    pub(crate) containers: Vec<(String, Das)>,
}

/// Parses a DAS document.
///
/// # Errors
/// [`Error::Upstream`] when it does not follow the grammar.
pub(crate) fn parse_das(text: &str) -> Result<Das> {
    let mut t = Tokens {
        tokens: tokenize(text)?,
        pos: 0,
    };
    let head = t.word()?;
    if !head.eq_ignore_ascii_case("attributes") {
        return Err(bad("a DAS starts with Attributes"));
    }
    t.punct('{')?;
    let das = das_body(&mut t)?;
    t.punct('}')?;
    Ok(das)
}

fn das_body(t: &mut Tokens) -> Result<Das> {
    let mut out = Das::default();
    while !t.is_punct('}') {
        if t.peek().is_none() {
            return Err(bad("unexpected end of the DAS"));
        }
        let first = t.word()?;
        if t.is_punct('{') {
            t.punct('{')?;
            let inner = das_body(t)?;
            t.punct('}')?;
            out.containers.push((unescape_name(&first), inner));
            continue;
        }
        let name = unescape_name(&t.word()?);
        let mut values = Vec::new();
        loop {
            match t.next() {
                Some(Token::Word(w)) => values.push((w, false)),
                Some(Token::Quoted(w)) => values.push((w, true)),
                other => return Err(bad(&format!("expected a value, found {other:?}"))),
            }
            if t.is_punct(',') {
                t.punct(',')?;
                continue;
            }
            t.punct(';')?;
            break;
        }
        if first.eq_ignore_ascii_case("alias") {
            continue;
        }
        if let Some(value) = attr_value(&first, &values) {
            out.attributes.push(Attribute::new(name, value));
        }
    }
    Ok(out)
}

/// The typed value of a DAS attribute; `None` for a type or a number that does not parse
/// (such an attribute is left out rather than guessed).
fn attr_value(dtype: &str, values: &[(String, bool)]) -> Option<AttrValue> {
    fn nums<T: std::str::FromStr>(v: &[(String, bool)]) -> Option<Vec<T>> {
        v.iter().map(|(s, _)| s.trim().parse().ok()).collect()
    }
    fn floats<T: std::str::FromStr>(v: &[(String, bool)]) -> Option<Vec<T>> {
        v.iter()
            .map(|(s, _)| {
                let s = s.trim().trim_end_matches(['f', 'F']);
                s.parse().ok()
            })
            .collect()
    }
    Some(match dtype.to_ascii_lowercase().as_str() {
        "byte" | "uint8" => AttrValue::UInt8(nums(values)?),
        "int8" => AttrValue::Int8(nums(values)?),
        "int16" => AttrValue::Int16(nums(values)?),
        "uint16" => AttrValue::UInt16(nums(values)?),
        "int32" => AttrValue::Int32(nums(values)?),
        "uint32" => AttrValue::UInt32(nums(values)?),
        "int64" => AttrValue::Int64(nums(values)?),
        "uint64" => AttrValue::UInt64(nums(values)?),
        "float32" => AttrValue::Float32(floats(values)?),
        "float64" => AttrValue::Float64(floats(values)?),
        "string" | "url" => AttrValue::String(values.iter().map(|(s, _)| s.clone()).collect()),
        _ => return None,
    })
}

/// A DAP2 variable of the mapped dataset: what to ask the remote server for it.
#[derive(Clone, Debug)]
pub(crate) struct RemoteVar2 {
    /// The name as the remote DDS spells it (top level).
    pub(crate) name: String,
    /// The wire type (of an atomic array; unused for a Structure).
    pub(crate) base: BaseType,
    /// A Structure's or Sequence's members as the DDS declares them, `None` for an atomic
    /// array.
    pub(crate) members: Option<std::sync::Arc<Vec<Decl>>>,
    /// Whether it is a Sequence (members set too).
    pub(crate) sequence: bool,
}

impl RemoteVar2 {
    /// A Structure (or, with `sequence`, a Sequence) called `name` with these members.
    fn compound(name: &str, members: Vec<Decl>, sequence: bool) -> Self {
        Self {
            name: name.to_owned(),
            base: BaseType::Byte,
            members: Some(std::sync::Arc::new(members)),
            sequence,
        }
    }
}

/// The CDM fields of a DAP2 Structure's members, or `None` when one of them has no CDM form
/// (a Grid or Sequence inside a Structure).
fn fields_of(members: &[Decl]) -> Option<Vec<Field>> {
    members
        .iter()
        .map(|m| match m {
            Decl::Base { dtype, name, dims } => Some(Field {
                name: name.clone(),
                dtype: dtype.cdm(),
                shape: dims.iter().map(|(_, l)| *l).collect(),
            }),
            Decl::Structure {
                name,
                members,
                dims,
            } => Some(Field {
                name: name.clone(),
                dtype: DataType::Structure(std::sync::Arc::new(StructureType {
                    name: format!("{name}_t"),
                    path: format!("/{name}_t"),
                    fields: fields_of(members).filter(|f| !f.is_empty())?,
                })),
                shape: dims.iter().map(|(_, l)| *l).collect(),
            }),
            Decl::Grid { .. } | Decl::Sequence { .. } => None,
        })
        .collect()
}

/// Maps a DDS and DAS into the CDM model: top-level arrays become variables, a Grid becomes its
/// array plus its maps as coordinate variables, named dimensions are shared. A Structure (or
/// array of them) becomes a variable of a CDM Structure type whose fields are its members,
/// with anonymous dimensions. A top-level Sequence (a table of rows, as pydap's server makes
/// of a CSV file) becomes a scalar variable of a vlen of a Structure of its members — the form
/// a DAP4 Sequence takes — read whole. Structures or Sequences holding a Grid or a Sequence are
/// left out and listed in the `_fathom_omitted` global attribute.
pub(crate) fn to_dataset(
    name: &str,
    dds: &Dds,
    das: &Das,
) -> Result<(Dataset, HashMap<String, RemoteVar2>)> {
    let mut root = Group {
        name: String::new(),
        path: "/".into(),
        ..Group::default()
    };
    let mut remote = HashMap::new();
    let mut omitted = Vec::new();
    let mut dim_sizes: HashMap<String, usize> = HashMap::new();
    let mut arrays: Vec<(BaseType, String, Vec<Dim>)> = Vec::new();
    let mut structures = Vec::new();
    let mut sequences = Vec::new();
    for d in &dds.decls {
        match d {
            Decl::Base { dtype, name, dims } => arrays.push((*dtype, name.clone(), dims.clone())),
            Decl::Grid { array, maps, .. } => {
                for m in std::iter::once(array.as_ref()).chain(maps) {
                    if let Decl::Base { dtype, name, dims } = m
                        && !arrays.iter().any(|(_, n, _)| n == name)
                    {
                        arrays.push((*dtype, name.clone(), dims.clone()));
                    }
                }
            }
            Decl::Structure {
                name,
                members,
                dims,
            } => match fields_of(members).filter(|f| !f.is_empty()) {
                Some(fields) => structures.push((name.clone(), members.clone(), fields, dims)),
                None => omitted.push(format!("{name} (Structure holding a Grid or Sequence)")),
            },
            Decl::Sequence { name, members } => {
                match fields_of(members).filter(|f| !f.is_empty()) {
                    Some(fields) => sequences.push((name.clone(), members.clone(), fields)),
                    None => omitted.push(format!("{name} (Sequence holding a Grid or Sequence)")),
                }
            }
        }
    }
    // A name used with two lengths cannot be one shared dimension: those uses stay anonymous.
    let mut conflicting = std::collections::HashSet::new();
    for (_, _, dims) in &arrays {
        for (n, len) in dims {
            if let Some(n) = n {
                match dim_sizes.get(n) {
                    Some(l) if l != len => {
                        conflicting.insert(n.clone());
                    }
                    Some(_) => {}
                    None => {
                        dim_sizes.insert(n.clone(), *len);
                    }
                }
            }
        }
    }
    let unlimited = das
        .containers
        .iter()
        .find(|(n, _)| n == "DODS_EXTRA")
        .and_then(|(_, c)| {
            c.attributes
                .iter()
                .find(|a| a.name == "Unlimited_Dimension")
        })
        .and_then(|a| a.value.as_text().map(|s| s.into_owned()));
    let mut dim_order: Vec<String> = Vec::new();
    for (_, _, dims) in &arrays {
        for (n, _) in dims {
            if let Some(n) = n
                && !conflicting.contains(n)
                && !dim_order.contains(n)
            {
                dim_order.push(n.clone());
            }
        }
    }
    for n in &dim_order {
        root.dimensions.push(Dimension {
            name: n.clone(),
            path: Group::child_path("/", n),
            len: dim_sizes.get(n).copied().unwrap_or(0),
            unlimited: unlimited.as_deref() == Some(n.as_str()),
        });
    }
    for (base, name, dims) in arrays {
        let mut attributes = das_for(das, &name);
        let mut dtype = base.cdm();
        // netCDF `byte` travels as DAP2 Byte marked `_Unsigned = "false"`.
        if base == BaseType::Byte
            && let Some(i) = attributes.iter().position(|a| {
                a.name == "_Unsigned" && a.value.as_text().is_some_and(|t| t == "false")
            })
        {
            attributes.remove(i);
            dtype = DataType::Int8;
        }
        fit_fill_value(&mut attributes, &dtype);
        let vdims = dims
            .iter()
            .map(|(n, len)| match n {
                Some(n) if !conflicting.contains(n) => VarDim {
                    path: Some(Group::child_path("/", n)),
                    name: Some(n.clone()),
                    len: *len,
                    unlimited: unlimited.as_deref() == Some(n.as_str()),
                },
                _ => VarDim::anonymous(*len),
            })
            .collect();
        let path = Group::child_path("/", &name);
        remote.insert(
            path.clone(),
            RemoteVar2 {
                name: name.clone(),
                base,
                members: None,
                sequence: false,
            },
        );
        root.variables.push(Variable {
            name,
            path,
            dtype,
            dims: vdims,
            attributes,
            storage: Storage::default(),
        });
    }
    for (name, members, fields, dims) in structures {
        let path = Group::child_path("/", &name);
        remote.insert(path.clone(), RemoteVar2::compound(&name, members, false));
        root.variables.push(Variable {
            attributes: das_for(das, &name),
            dtype: DataType::Structure(std::sync::Arc::new(StructureType {
                name: format!("{name}_t"),
                path: format!("{path}_t"),
                fields,
            })),
            dims: dims
                .iter()
                .map(|(_, len)| VarDim::anonymous(*len))
                .collect(),
            name,
            path,
            storage: Storage::default(),
        });
    }
    for (name, members, fields) in sequences {
        let path = Group::child_path("/", &name);
        remote.insert(path.clone(), RemoteVar2::compound(&name, members, true));
        let row = DataType::Structure(std::sync::Arc::new(StructureType {
            name: format!("{name}_row"),
            path: format!("{path}_row"),
            fields,
        }));
        root.variables.push(Variable {
            attributes: das_for(das, &name),
            dtype: DataType::VLen(std::sync::Arc::new(crate::model::VLenType {
                name: format!("{name}_t"),
                path: format!("{path}_t"),
                base: row,
            })),
            dims: Vec::new(),
            name,
            path,
            storage: Storage::default(),
        });
    }
    // Attributes outside any container (pydap's server puts the global ones there).
    root.attributes.extend(das.attributes.iter().cloned());
    for (cname, c) in &das.containers {
        let is_var = root.variables.iter().any(|v| &v.name == cname)
            || dds.decls.iter().any(|d| d.name() == cname);
        if cname == "DODS_EXTRA" || is_var {
            continue;
        }
        if cname == "NC_GLOBAL" || cname.ends_with("_GLOBAL") || cname == "global" {
            flatten_into(&mut root.attributes, "", c);
        } else {
            flatten_into(&mut root.attributes, &format!("{cname}."), c);
        }
    }
    if !omitted.is_empty() {
        root.attributes.push(Attribute::new(
            "_fathom_omitted",
            AttrValue::String(vec![format!(
                "not read from the remote server: {}",
                omitted.join(", ")
            )]),
        ));
    }
    let ds = Dataset {
        name: name.to_owned(),
        format: Format::RemoteDap2,
        root,
    };
    Ok((ds, remote))
}

/// The attributes of the variable `name`: its container, flattened, with a Grid's inner
/// container of the same name merged in.
fn das_for(das: &Das, name: &str) -> Vec<Attribute> {
    let mut out = Vec::new();
    if let Some((_, c)) = das.containers.iter().find(|(n, _)| n == name) {
        out.extend(c.attributes.iter().cloned());
        for (inner, ic) in &c.containers {
            if inner == name {
                out.extend(ic.attributes.iter().cloned());
            } else {
                flatten_into(&mut out, &format!("{inner}."), ic);
            }
        }
    }
    out
}

fn flatten_into(out: &mut Vec<Attribute>, prefix: &str, c: &Das) {
    for a in &c.attributes {
        out.push(Attribute::new(
            format!("{prefix}{}", a.name),
            a.value.clone(),
        ));
    }
    for (n, inner) in &c.containers {
        flatten_into(out, &format!("{prefix}{n}."), inner);
    }
}

/// Converts a numeric `_FillValue` / `missing_value` to the variable's type when it holds
/// exactly (a DAP2 server may widen a `byte` fill to Int16), so it stays usable as a fill.
fn fit_fill_value(attributes: &mut [Attribute], dtype: &DataType) {
    for a in attributes.iter_mut() {
        if a.name != "_FillValue" || a.value.dtype() == *dtype {
            continue;
        }
        let Some(v) = a.value.as_f64s() else { continue };
        #[allow(clippy::cast_possible_truncation)]
        let converted = match dtype {
            DataType::Int8 => v
                .iter()
                .all(|x| (-128.0..=127.0).contains(x))
                .then(|| AttrValue::Int8(v.iter().map(|x| *x as i8).collect())),
            DataType::UInt8 => v
                .iter()
                .all(|x| (0.0..=255.0).contains(x))
                .then(|| AttrValue::UInt8(v.iter().map(|x| *x as u8).collect())),
            DataType::Int16 => v
                .iter()
                .all(|x| (-32768.0..=32767.0).contains(x))
                .then(|| AttrValue::Int16(v.iter().map(|x| *x as i16).collect())),
            _ => None,
        };
        if let Some(c) = converted {
            a.value = c;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DDS: &str = "Dataset {\n    Float64 COADSX[COADSX = 180];\n    Grid {\n      Array:\n        Float32 SST[TIME = 12][COADSY = 90][COADSX = 180];\n      Maps:\n        Float64 TIME[TIME = 12];\n        Float64 COADSY[COADSY = 90];\n        Float64 COADSX[COADSX = 180];\n    } SST;\n    Structure { Int32 a; Structure { Float64 x[2]; } in; } s[s = 4];\n    Sequence { Int32 id; } rows;\n    Byte b[n = 3];\n} coads.nc;\n";
    const DAS: &str = "Attributes {\n    SST {\n        String units \"Deg C\";\n        Float32 _FillValue -1.0E34;\n    }\n    b {\n        String _Unsigned \"false\";\n        Int16 _FillValue -127;\n    }\n    NC_GLOBAL {\n        String history \"a \\\"quoted\\\" word\";\n        Int32 n 1, 2;\n    }\n    DODS_EXTRA {\n        String Unlimited_Dimension \"TIME\";\n    }\n}\n";

    #[test]
    fn grids_become_variables_with_shared_dimensions() {
        let dds = parse_dds(DDS).expect("parses");
        let das = parse_das(DAS).expect("parses");
        let (ds, remote) = to_dataset("coads.nc", &dds, &das).expect("maps");
        let sst = ds.variable("/SST").expect("SST");
        assert_eq!(sst.shape(), vec![12, 90, 180]);
        assert_eq!(sst.dtype, DataType::Float32);
        assert_eq!(
            sst.attribute("units")
                .and_then(|a| a.value.as_text())
                .as_deref(),
            Some("Deg C")
        );
        assert!(ds.variable("/TIME").is_some_and(Variable::is_coordinate));
        assert!(ds.unlimited_dimension().is_some_and(|d| d.name == "TIME"));
        let b = ds.variable("/b").expect("b");
        assert_eq!(b.dtype, DataType::Int8);
        assert_eq!(b.fill_value(), Some(&AttrValue::Int8(vec![-127])));
        assert_eq!(
            ds.root
                .attribute("history")
                .and_then(|a| a.value.as_text())
                .as_deref(),
            Some("a \"quoted\" word")
        );
        assert_eq!(ds.root.attribute("n").map(|a| a.value.len()), Some(2));
        let omitted = ds
            .root
            .attribute("_fathom_omitted")
            .and_then(|a| a.value.as_text());
        assert!(omitted.is_none(), "{omitted:?}");
        let s = ds.variable("/s").expect("s");
        assert_eq!(s.shape(), vec![4]);
        assert_eq!(s.dtype.fixed_size(), Some(4 + 16));
        assert!(remote.get("/s").is_some_and(|r| r.members.is_some()));
        let rows = ds.variable("/rows").expect("rows");
        assert!(rows.shape().is_empty());
        assert!(
            matches!(&rows.dtype, DataType::VLen(v) if matches!(&v.base, DataType::Structure(r) if r.fields.len() == 1))
        );
        assert!(remote.get("/rows").is_some_and(|r| r.sequence));
        assert_eq!(remote.get("/SST").map(|r| r.base), Some(BaseType::Float32));
    }

    #[test]
    fn malformed_metadata_is_an_upstream_error() {
        for bad in [
            "Dataset {",
            "Dataset { Foo x; } d;",
            "Dataset { Int32 x[n = y]; } d;",
            "",
        ] {
            assert!(matches!(parse_dds(bad), Err(Error::Upstream(_))), "{bad}");
        }
        assert!(parse_das("Attributes { x { String a \"b\" } }").is_err());
    }
}
