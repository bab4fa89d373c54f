//! The `.ascii` (`.asc`) response: values as comma-separated text, laid out like Hyrax's
//! asciival module (`AsciiArray::print_array`, `AsciiGrid::print_grid`): `Dataset: name`, then
//! one line per row, `name[i][j], v, v, …`, a Grid's rows labelled with its map values.
//!
//! Values are shown as the file holds them (a netCDF `byte` prints signed). Each variable is
//! read whole before it is printed, so the size is bounded by [`ASCII_LIMIT`].

use std::fmt::Write as _;

use cdm::encoding::read_len;
use cdm::{Hyperslab, Range, Source};

use crate::Error;
use crate::constraint::{MemberSel, Projected, VarSel};
use crate::das::c_format_g;
use crate::mapping::{Atomic, Dap2Dataset, Element, Node, NumKind};
use crate::xdr::{chars_to_string, selected_indices};

/// The most canonical bytes an `.ascii` response reads; larger requests are refused.
pub const ASCII_LIMIT: usize = 64 << 20;

fn number_text(kind: NumKind, b: &[u8]) -> String {
    match kind {
        NumKind::I8 => (b[0] as i8).to_string(),
        NumKind::U8 => b[0].to_string(),
        NumKind::I16 => i16::from_le_bytes([b[0], b[1]]).to_string(),
        NumKind::U16 => u16::from_le_bytes([b[0], b[1]]).to_string(),
        NumKind::I32 => i32::from_le_bytes([b[0], b[1], b[2], b[3]]).to_string(),
        NumKind::U32 => u32::from_le_bytes([b[0], b[1], b[2], b[3]]).to_string(),
        NumKind::F32 => c_format_g(
            f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            6,
            false,
        ),
        NumKind::F64 => {
            let mut a = [0u8; 8];
            a.copy_from_slice(&b[..8]);
            c_format_g(f64::from_le_bytes(a), 15, false)
        }
    }
}

fn quote(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(bytes);
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Decodes `data` (whole canonical elements) into one text per value.
fn texts(element: Element, data: &[u8]) -> Result<Vec<String>, Error> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos < data.len() {
        let rest = &data[pos..];
        match element {
            Element::Number(k) => {
                let b = rest.get(..k.size()).ok_or_else(truncated)?;
                out.push(number_text(k, b));
                pos += k.size();
            }
            Element::Chars { len } => {
                let b = rest.get(..len).ok_or_else(truncated)?;
                out.push(quote(chars_to_string(b)));
                pos += len.max(1);
            }
            Element::String => {
                let n = usize::try_from(read_len(rest)?).map_err(|_| truncated())?;
                let b = rest.get(8..8 + n).ok_or_else(truncated)?;
                out.push(quote(b));
                pos += 8 + n;
            }
        }
    }
    Ok(out)
}

fn truncated() -> Error {
    Error::Source(cdm::Error::Corrupt("truncated value".into()))
}

/// Prints an array of value texts with its row labels.
fn print_array(out: &mut String, name: &str, shape: &[usize], values: &[String]) {
    match shape.len() {
        0 => {
            let _ = writeln!(out, "{name}, {}", values.first().map_or("", String::as_str));
        }
        1 => {
            let _ = writeln!(out, "{name}, {}", values.join(", "));
        }
        _ => {
            let row = shape[shape.len() - 1].max(1);
            let outer = &shape[..shape.len() - 1];
            for (r, chunk) in values.chunks(row).enumerate() {
                let mut label = String::from(name);
                let mut rem = r;
                let mut idx = vec![0usize; outer.len()];
                for d in (0..outer.len()).rev() {
                    idx[d] = rem % outer[d].max(1);
                    rem /= outer[d].max(1);
                }
                for i in idx {
                    let _ = write!(label, "[{i}]");
                }
                let _ = writeln!(out, "{label}, {}", chunk.join(", "));
            }
        }
    }
}

/// Reads a slab, refusing more than the budget left.
async fn read(
    source: &dyn Source,
    path: &str,
    ranges: Vec<Range>,
    shape: &[usize],
    budget: &mut usize,
) -> Result<Vec<u8>, Error> {
    let slab = Hyperslab::new(ranges, shape).map_err(|e| Error::BadIndex(e.to_string()))?;
    let data = cdm::read_all(source, path, &slab).await?;
    *budget = budget.checked_sub(data.len()).ok_or_else(|| {
        Error::TooLarge(format!(
            "an .ascii response is limited to {} MiB of data; use .dods or a smaller constraint",
            ASCII_LIMIT >> 20
        ))
    })?;
    Ok(data)
}

fn counts(r: &[Range]) -> Vec<usize> {
    r.iter().map(|r| r.count).collect()
}

fn char_ranges(a: &Atomic, ranges: &[Range], source_shape: &[usize]) -> Vec<Range> {
    let mut r = ranges.to_vec();
    if let Element::Chars { len } = a.element
        && source_shape.len() > r.len()
    {
        r.push(Range::full(len));
    }
    r
}

/// Prints the members of structure elements, one line per member per element.
fn print_structure(
    out: &mut String,
    prefix: &str,
    members: &[Node],
    sels: &[MemberSel],
    data: &[u8],
    count: usize,
) -> Result<usize, Error> {
    let mut pos = 0usize;
    for e in 0..count {
        let label = if count > 1 {
            format!("{prefix}[{e}]")
        } else {
            prefix.to_owned()
        };
        for (m, s) in members.iter().zip(sels) {
            let n: usize = m.shape().iter().product();
            let len = member_len(m, n, data.get(pos..).ok_or_else(truncated)?)?;
            let bytes = &data[pos..pos + len];
            pos += len;
            match (m, s) {
                (_, MemberSel::Skip) => {}
                (Node::Atomic(a), MemberSel::Atomic(r)) => {
                    let all = texts(a.element, bytes)?;
                    let picked: Vec<String> = selected_indices(&a.shape(), r)
                        .into_iter()
                        .filter_map(|i| all.get(i).cloned())
                        .collect();
                    print_array(out, &format!("{label}.{}", a.name), &counts(r), &picked);
                }
                (Node::Structure { name, members, .. }, MemberSel::Structure(inner)) => {
                    print_structure(
                        out,
                        &format!("{label}.{name}"),
                        members,
                        &inner.members,
                        bytes,
                        n,
                    )?;
                }
                _ => {}
            }
        }
    }
    Ok(pos)
}

fn member_len(node: &Node, n: usize, data: &[u8]) -> Result<usize, Error> {
    match node {
        Node::Atomic(a) => match a.element.canonical_size() {
            Some(s) => Ok(s * n),
            None => {
                let mut pos = 0usize;
                for _ in 0..n {
                    let l = usize::try_from(read_len(data.get(pos..).ok_or_else(truncated)?)?)
                        .map_err(|_| truncated())?;
                    pos += 8 + l;
                }
                Ok(pos)
            }
        },
        Node::Structure { members, .. } => {
            let mut pos = 0usize;
            for _ in 0..n {
                for m in members {
                    let k: usize = m.shape().iter().product();
                    pos += member_len(m, k, data.get(pos..).ok_or_else(truncated)?)?;
                }
            }
            Ok(pos)
        }
    }
}

/// The `.ascii` text of the projected variables.
///
/// # Errors
/// A failed read, or more data than [`ASCII_LIMIT`].
pub async fn ascii(
    source: &dyn Source,
    ds: &Dap2Dataset,
    projected: &[Projected],
) -> Result<String, Error> {
    let mut out = format!("Dataset: {}\n", ds.name);
    let mut budget = ASCII_LIMIT;
    for p in projected {
        let Some(var) = ds.vars.get(p.index) else {
            continue;
        };
        match (&p.sel, &var.node) {
            (VarSel::Atomic(r), Node::Atomic(a)) => {
                let data = read(
                    source,
                    &var.path,
                    char_ranges(a, r, &var.source_shape),
                    &var.source_shape,
                    &mut budget,
                )
                .await?;
                print_array(&mut out, &a.name, &counts(r), &texts(a.element, &data)?);
            }
            (VarSel::Structure(s), Node::Structure { name, members, .. }) => {
                let data = read(
                    source,
                    &var.path,
                    s.ranges.clone(),
                    &var.source_shape,
                    &mut budget,
                )
                .await?;
                let n = counts(&s.ranges).iter().product();
                print_structure(&mut out, name, members, &s.members, &data, n)?;
            }
            (VarSel::Grid(g), Node::Atomic(a)) => {
                let mut maps = Vec::new();
                for (m, r) in var.maps.iter().zip(&g.maps) {
                    let values = match r {
                        Some(r) => {
                            let d = read(source, &m.path, vec![*r], &m.array.shape(), &mut budget)
                                .await?;
                            Some(texts(m.array.element, &d)?)
                        }
                        None => None,
                    };
                    maps.push(values);
                }
                let array = match &g.array {
                    Some(r) => {
                        let d = read(
                            source,
                            &var.path,
                            char_ranges(a, r, &var.source_shape),
                            &var.source_shape,
                            &mut budget,
                        )
                        .await?;
                        Some((counts(r), texts(a.element, &d)?))
                    }
                    None => None,
                };
                let gname = |n: &str| format!("{}.{n}", a.name);
                match (&array, g.is_grid()) {
                    (Some((shape, values)), true) if shape.len() > 1 => {
                        let last = var.maps.len() - 1;
                        if let Some(Some(v)) = maps.get(last) {
                            print_array(
                                &mut out,
                                &gname(&var.maps[last].array.name),
                                &[v.len()],
                                v,
                            );
                        }
                        let row = shape[shape.len() - 1].max(1);
                        let outer = &shape[..shape.len() - 1];
                        for (r, chunk) in values.chunks(row).enumerate() {
                            let mut label = gname(&a.name);
                            let mut rem = r;
                            let mut idx = vec![0usize; outer.len()];
                            for d in (0..outer.len()).rev() {
                                idx[d] = rem % outer[d].max(1);
                                rem /= outer[d].max(1);
                            }
                            for (d, i) in idx.iter().enumerate() {
                                let v = maps
                                    .get(d)
                                    .and_then(|m| m.as_ref())
                                    .and_then(|m| m.get(*i))
                                    .map_or("", String::as_str);
                                let _ = write!(label, "[{}={v}]", gname(&var.maps[d].array.name));
                            }
                            let _ = writeln!(out, "{label}, {}", chunk.join(", "));
                        }
                    }
                    _ => {
                        for (m, v) in var.maps.iter().zip(&maps) {
                            if let Some(v) = v {
                                print_array(&mut out, &gname(&m.array.name), &[v.len()], v);
                            }
                        }
                        if let Some((shape, values)) = &array {
                            print_array(&mut out, &gname(&a.name), shape, values);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    Ok(out)
}
