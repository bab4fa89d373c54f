//! NcML 2.2 text → a typed document ([`NetcdfElem`] and what it holds), with quick-xml. Only the
//! structure is checked here; names are resolved against datasets when the document is built.

use quick_xml::XmlVersion;
use quick_xml::events::Event;

/// One XML element: its local name, attributes, children and text, in document order.
#[derive(Clone, Debug, Default)]
struct Element {
    name: String,
    attrs: Vec<(String, String)>,
    children: Vec<Element>,
    text: String,
}

impl Element {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Reads the XML into an element tree.
fn read_tree(text: &str) -> Result<Element, String> {
    let mut reader = quick_xml::Reader::from_str(text);
    let mut stack: Vec<Element> = vec![Element::default()];
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("malformed XML at byte {}: {e}", reader.error_position()))?;
        match event {
            Event::Start(e) => stack.push(element_of(&e)?),
            Event::Empty(e) => {
                let el = element_of(&e)?;
                push_child(&mut stack, el)?;
            }
            Event::End(_) => {
                let el = stack.pop().ok_or("unbalanced end tag")?;
                push_child(&mut stack, el)?;
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.xml_content(XmlVersion::Implicit1_0));
                }
            }
            Event::CData(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.into_inner());
                }
            }
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    _ => {
                        let name = r.xml_content(XmlVersion::Implicit1_0);
                        quick_xml::escape::resolve_predefined_entity(&name)
                            .ok_or_else(|| format!("unknown entity &{name};"))?
                            .to_owned()
                    }
                };
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&resolved);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    let mut root = stack.pop().ok_or("empty document")?;
    if !stack.is_empty() {
        return Err("the document ends inside an element".into());
    }
    let mut elements = root.children.drain(..);
    let first = elements.next().ok_or("no <netcdf> element")?;
    if elements.next().is_some() {
        return Err("more than one top-level element".into());
    }
    Ok(first)
}

fn push_child(stack: &mut [Element], el: Element) -> Result<(), String> {
    stack
        .last_mut()
        .ok_or_else(|| "unbalanced end tag".to_owned())?
        .children
        .push(el);
    Ok(())
}

fn element_of(e: &quick_xml::events::BytesStart<'_>) -> Result<Element, String> {
    let name = e.local_name().as_ref().to_owned();
    let mut attrs = Vec::new();
    for a in e.attributes() {
        let a = a.map_err(|e| format!("bad attribute in <{name}>: {e}"))?;
        let key = a.key.local_name().as_ref().to_owned();
        let value = a
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|e| format!("bad attribute value in <{name}>: {e}"))?
            .into_owned();
        attrs.push((key, value));
    }
    Ok(Element {
        name,
        attrs,
        children: Vec::new(),
        text: String::new(),
    })
}

/// A `<netcdf>` element: a dataset, from a file (`location`), an aggregation, or nothing (a purely
/// virtual dataset), with edits applied to it in document order.
#[derive(Clone, Debug, Default)]
pub(crate) struct NetcdfElem {
    /// Where the underlying file is, as written.
    pub location: Option<String>,
    /// The member's extent along a joinExisting dimension, as written.
    pub ncoords: Option<String>,
    /// The member's coordinate value(s) for a join, as written.
    pub coord_value: Option<String>,
    /// The aggregation that makes this dataset, if any.
    pub aggregation: Option<Aggregation>,
    /// The edits, in document order.
    pub edits: Vec<Edit>,
    /// How many edits come before the aggregation: those apply before it is merged in.
    pub edits_before_aggregation: usize,
}

impl NetcdfElem {
    /// Whether the element only names a file (nothing to apply on top of it).
    pub(crate) fn is_plain_file(&self) -> bool {
        self.location.is_some() && self.aggregation.is_none() && self.edits.is_empty()
    }
}

/// One edit of a dataset.
#[derive(Clone, Debug)]
pub(crate) enum Edit {
    /// `<dimension name length [orgName] [isUnlimited]>`: add one, or rename one.
    Dimension {
        name: String,
        length: Option<String>,
        org_name: Option<String>,
        unlimited: bool,
    },
    /// `<variable …>`: add, change or rename a variable.
    Variable(VariableElem),
    /// `<attribute …>` of the dataset.
    Attribute(AttributeElem),
    /// `<remove name type>` at dataset level.
    Remove { name: String, kind: String },
}

/// A `<variable>` element.
#[derive(Clone, Debug, Default)]
pub(crate) struct VariableElem {
    pub name: String,
    pub org_name: Option<String>,
    pub dtype: Option<String>,
    pub shape: Option<String>,
    /// Attribute edits: `Ok` to add or change, `Err(name)` to remove.
    pub attributes: Vec<Result<AttributeElem, String>>,
    pub values: Option<ValuesElem>,
}

/// An `<attribute>` element.
#[derive(Clone, Debug, Default)]
pub(crate) struct AttributeElem {
    pub name: String,
    pub org_name: Option<String>,
    pub dtype: Option<String>,
    /// `value=`, or the element's text.
    pub value: Option<String>,
    pub separator: Option<String>,
}

/// A `<values>` element: a list, or `start` / `increment` (/ `npts`).
#[derive(Clone, Debug, Default)]
pub(crate) struct ValuesElem {
    pub text: String,
    pub start: Option<String>,
    pub increment: Option<String>,
    pub npts: Option<String>,
    pub separator: Option<String>,
}

/// The kinds of aggregation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AggKind {
    Union,
    JoinExisting,
    JoinNew,
}

/// An `<aggregation>` element.
#[derive(Clone, Debug)]
pub(crate) struct Aggregation {
    pub kind: AggKind,
    pub dim_name: Option<String>,
    pub recheck_every: Option<String>,
    pub variable_agg: Vec<String>,
    pub members: Vec<NetcdfElem>,
    pub scans: Vec<ScanElem>,
}

/// A `<scan>` element.
#[derive(Clone, Debug, Default)]
pub(crate) struct ScanElem {
    pub location: String,
    pub suffix: Option<String>,
    pub reg_exp: Option<String>,
    pub subdirs: bool,
    pub older_than: Option<String>,
    pub date_format_mark: Option<String>,
    pub ncoords: Option<String>,
}

/// Parses an NcML document.
///
/// # Errors
/// A message saying what is wrong (malformed XML, an element where it cannot be, a missing
/// attribute).
pub(crate) fn parse(text: &str) -> Result<NetcdfElem, String> {
    let root = read_tree(text)?;
    if root.name != "netcdf" {
        return Err(format!("the top element is <{}>, not <netcdf>", root.name));
    }
    netcdf_elem(&root, false)
}

fn netcdf_elem(el: &Element, in_aggregation: bool) -> Result<NetcdfElem, String> {
    let mut out = NetcdfElem {
        location: el
            .attr("location")
            .or_else(|| el.attr("url"))
            .map(str::to_owned),
        ncoords: el.attr("ncoords").map(str::to_owned),
        coord_value: el.attr("coordValue").map(str::to_owned),
        ..NetcdfElem::default()
    };
    if !in_aggregation && (out.ncoords.is_some() || out.coord_value.is_some()) {
        return Err(
            "ncoords and coordValue belong on <netcdf> elements inside an <aggregation>".into(),
        );
    }
    for child in &el.children {
        match child.name.as_str() {
            "aggregation" => {
                if out.aggregation.is_some() {
                    return Err("a <netcdf> element holds at most one <aggregation>".into());
                }
                if out.location.is_some() {
                    return Err(
                        "a <netcdf> element with a location cannot also hold an <aggregation>"
                            .into(),
                    );
                }
                out.aggregation = Some(aggregation(child)?);
                out.edits_before_aggregation = out.edits.len();
            }
            "dimension" => out.edits.push(Edit::Dimension {
                name: required(child, "name")?,
                length: child.attr("length").map(str::to_owned),
                org_name: child.attr("orgName").map(str::to_owned),
                unlimited: child.attr("isUnlimited") == Some("true"),
            }),
            "variable" => out.edits.push(Edit::Variable(variable(child)?)),
            "attribute" => out.edits.push(Edit::Attribute(attribute(child)?)),
            "remove" => out.edits.push(Edit::Remove {
                name: required(child, "name")?,
                kind: required(child, "type")?,
            }),
            "explicit" | "readMetadata" => {}
            "group" => {
                return Err("<group> edits are not supported; edit root-group items only".into());
            }
            "netcdf" => {
                return Err("a <netcdf> element cannot hold another <netcdf> \
                     outside an <aggregation>"
                    .into());
            }
            "scan" | "variableAgg" => {
                return Err(format!("<{}> belongs inside an <aggregation>", child.name));
            }
            other => return Err(format!("unknown element <{other}> inside <netcdf>")),
        }
    }
    Ok(out)
}

fn aggregation(el: &Element) -> Result<Aggregation, String> {
    let kind = match el.attr("type") {
        Some("union") => AggKind::Union,
        Some("joinExisting") => AggKind::JoinExisting,
        Some("joinNew") => AggKind::JoinNew,
        Some(other) => return Err(format!("unsupported aggregation type \"{other}\"")),
        None => return Err("<aggregation> needs a type".into()),
    };
    let dim_name = el.attr("dimName").map(str::to_owned);
    if kind != AggKind::Union && dim_name.as_deref().is_none_or(str::is_empty) {
        return Err("a join aggregation needs a dimName".into());
    }
    let mut out = Aggregation {
        kind,
        dim_name,
        recheck_every: el.attr("recheckEvery").map(str::to_owned),
        variable_agg: Vec::new(),
        members: Vec::new(),
        scans: Vec::new(),
    };
    for child in &el.children {
        match child.name.as_str() {
            "netcdf" => out.members.push(netcdf_elem(child, true)?),
            "variableAgg" => {
                let name = required(child, "name")?;
                out.variable_agg
                    .push(name.trim_start_matches('/').to_owned());
            }
            "scan" => out.scans.push(ScanElem {
                location: required(child, "location")?,
                suffix: child.attr("suffix").map(str::to_owned),
                reg_exp: child.attr("regExp").map(str::to_owned),
                subdirs: child.attr("subdirs") != Some("false"),
                older_than: child.attr("olderThan").map(str::to_owned),
                date_format_mark: child.attr("dateFormatMark").map(str::to_owned),
                ncoords: child.attr("ncoords").map(str::to_owned),
            }),
            "aggregation" => {
                return Err("an <aggregation> cannot hold an <aggregation>; nest it \
                 in a <netcdf> member"
                    .into());
            }
            "promoteGlobalAttribute" | "cacheVariable" => {
                return Err(format!("<{}> is not supported", child.name));
            }
            other => return Err(format!("unknown element <{other}> inside <aggregation>")),
        }
    }
    if kind != AggKind::JoinNew && !out.variable_agg.is_empty() && kind == AggKind::Union {
        return Err("<variableAgg> has no meaning in a union".into());
    }
    Ok(out)
}

fn variable(el: &Element) -> Result<VariableElem, String> {
    let mut out = VariableElem {
        name: required(el, "name")?,
        org_name: el.attr("orgName").map(str::to_owned),
        dtype: el.attr("type").map(str::to_owned),
        shape: el.attr("shape").map(str::to_owned),
        ..VariableElem::default()
    };
    for child in &el.children {
        match child.name.as_str() {
            "attribute" => out.attributes.push(Ok(attribute(child)?)),
            "remove" => {
                if child.attr("type") != Some("attribute") {
                    return Err(format!(
                        "inside <variable name=\"{}\">, <remove> removes attributes only",
                        out.name
                    ));
                }
                out.attributes.push(Err(required(child, "name")?));
            }
            "values" => {
                if out.values.is_some() {
                    return Err(format!("variable {} has two <values>", out.name));
                }
                out.values = Some(ValuesElem {
                    text: child.text.clone(),
                    start: child.attr("start").map(str::to_owned),
                    increment: child.attr("increment").map(str::to_owned),
                    npts: child.attr("npts").map(str::to_owned),
                    separator: child.attr("separator").map(str::to_owned),
                });
            }
            "logicalSection" | "logicalSlice" | "logicalReduce" | "variable" => {
                return Err(format!(
                    "<{}> inside <variable> is not supported",
                    child.name
                ));
            }
            "aggregation" => {
                return Err("an <aggregation> cannot be inside a <variable>".into());
            }
            other => return Err(format!("unknown element <{other}> inside <variable>")),
        }
    }
    Ok(out)
}

fn attribute(el: &Element) -> Result<AttributeElem, String> {
    let name = required(el, "name")?;
    if el.children.iter().any(|c| c.name == "attribute") {
        return Err(format!(
            "attribute {name}: nested attribute containers are not supported"
        ));
    }
    let value = el
        .attr("value")
        .map(str::to_owned)
        .or_else(|| (!el.text.trim().is_empty()).then(|| el.text.clone()));
    Ok(AttributeElem {
        name,
        org_name: el.attr("orgName").map(str::to_owned),
        dtype: el.attr("type").map(str::to_owned),
        value,
        separator: el.attr("separator").map(str::to_owned),
    })
}

fn required(el: &Element, attr: &str) -> Result<String, String> {
    el.attr(attr)
        .map(str::to_owned)
        .ok_or_else(|| format!("<{}> needs a {attr} attribute", el.name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_an_aggregation_with_members_scans_and_edits() {
        let doc = parse(
            r#"<?xml version="1.0"?>
            <netcdf xmlns="http://www.unidata.ucar.edu/namespaces/netcdf/ncml-2.2">
              <attribute name="title" value="a &amp; b"/>
              <aggregation type="joinExisting" dimName="time" recheckEvery="10 min">
                <netcdf location="a.nc" ncoords="2"/>
                <scan location="more/" suffix=".nc" subdirs="false"/>
              </aggregation>
              <variable name="v" orgName="old"><remove type="attribute" name="x"/></variable>
              <variable name="n" type="int" shape="time"><values start="0" increment="2"/></variable>
            </netcdf>"#,
        )
        .expect("parses");
        let agg = doc.aggregation.expect("aggregation");
        assert_eq!(agg.kind, AggKind::JoinExisting);
        assert_eq!(agg.members[0].location.as_deref(), Some("a.nc"));
        assert_eq!(agg.members[0].ncoords.as_deref(), Some("2"));
        assert!(!agg.scans[0].subdirs);
        assert_eq!(doc.edits.len(), 3);
        match &doc.edits[0] {
            Edit::Attribute(a) => assert_eq!(a.value.as_deref(), Some("a & b")),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn refuses_misplaced_and_malformed_elements() {
        for bad in [
            "<netcdf><aggregation type=\"union\"/><aggregation type=\"union\"/></netcdf>",
            "<netcdf location=\"a.nc\"><aggregation type=\"union\"/></netcdf>",
            "<netcdf><scan location=\".\"/></netcdf>",
            "<netcdf><aggregation type=\"joinNew\"/></netcdf>",
            "<netcdf><aggregation type=\"tiled\"/></netcdf>",
            "<netcdf><variable name=\"v\"><aggregation type=\"union\"/></variable></netcdf>",
            "<netcdf><attribute name=\"a\"></netcdf>",
            "<dataset/>",
            "",
        ] {
            assert!(parse(bad).is_err(), "{bad} should be refused");
        }
    }
}
