//! Dataset pages for people: `.html` (the OPeNDAP data request form), `.info` (the dataset's
//! structure, DDS and DAS, readable) and `.help`.
//!
//! Plain server-rendered HTML. The form carries a few lines of JavaScript that build the DAP2
//! constraint URL as boxes are ticked and indexes typed; no build step, no external resources.

use std::fmt::Write as _;

use bytes::Bytes;
use dap2::Dap2Dataset;
use dap2::das::{DasAttr, DasValue};
use dap2::mapping::{Dim, Node};

use crate::DatasetRequest;
use crate::listing::{STYLE, encode_component, html_escape};

/// Extra style for the form.
const FORM_STYLE: &str = "<style>fieldset.var{border:1px solid #ccc;margin:.5em 0;padding:.4em .8em}\
fieldset.var legend{font-weight:600}input.dim{font-family:monospace;width:11em}input.bad{background:#fdd;border-color:#c00}\
#data-url{width:100%;font-family:monospace;padding:.3em}.type{color:#555;font-family:monospace}\
.actions button{margin:.3em .5em .3em 0;padding:.3em 1em}details{margin:.2em 0 .2em 1.5em}dl.attrs{margin:.2em 0 .2em 1em}\
dl.attrs dt{float:left;clear:left;font-family:monospace;margin-right:.5em}dl.attrs dd{margin-left:0;font-family:monospace;color:#333}\
.dimlabel{display:inline-block;margin-right:1em}#preview{image-rendering:pixelated;min-width:360px;max-width:100%;border:1px solid #ccc;background:repeating-conic-gradient(#eee 0 25%,#fff 0 50%) 0 0/16px 16px}#preview-error{color:#a00;white-space:pre-wrap}</style>";

/// The script of the data request form: rebuilds the constraint on every change.
const FORM_SCRIPT: &str = r"<script>
(function () {
  'use strict';
  var base = location.pathname.replace(/\.html$/, '');
  function check(box) {
    var v = box.value.replace(/\s+/g, '');
    var m = /^(\d+)(?::(\d+))?(?::(\d+))?$/.exec(v);
    if (!m) return null;
    var len = Number(box.getAttribute('data-len'));
    var start = Number(m[1]);
    var stride = m[3] !== undefined ? Number(m[2]) : 1;
    var stop = m[3] !== undefined ? Number(m[3]) : (m[2] !== undefined ? Number(m[2]) : start);
    if (stride < 1 || start > stop || stop >= len) return null;
    return v;
  }
  function constraint() {
    var parts = [], ok = true;
    var sets = document.querySelectorAll('fieldset.var');
    for (var i = 0; i < sets.length; i++) {
      var pick = sets[i].querySelector('input.pick');
      var boxes = sets[i].querySelectorAll('input.dim');
      var s = sets[i].getAttribute('data-name');
      for (var j = 0; j < boxes.length; j++) {
        boxes[j].disabled = !pick.checked;
        var v = check(boxes[j]);
        boxes[j].classList.toggle('bad', pick.checked && v === null);
        if (pick.checked && v === null) ok = false;
        s += '[' + (v === null ? boxes[j].value : v) + ']';
      }
      if (pick.checked) parts.push(s);
    }
    return { ce: parts.join(','), parts: parts, ok: ok };
  }
  function update() {
    var c = constraint();
    var q = c.ce ? '?' + c.ce : '';
    document.getElementById('data-url').value = location.origin + base + q;
    document.getElementById('get-ascii').disabled = !c.ok;
    document.getElementById('get-binary').disabled = !c.ok;
    document.getElementById('get-ascii').setAttribute('data-href', base + '.ascii' + q);
    document.getElementById('get-binary').setAttribute('data-href', base + '.dods' + q);
    document.getElementById('preview-button').disabled = !c.ok || c.parts.length === 0;
  }
  // The quick-look picture of the first ticked variable's slice.
  function preview() {
    var c = constraint();
    if (!c.ok || c.parts.length === 0) return;
    var img = document.getElementById('preview');
    var err = document.getElementById('preview-error');
    var src = base + '.png?' + c.parts[0] + '&palette=' +
      encodeURIComponent(document.getElementById('palette').value);
    err.textContent = '';
    img.onerror = function () {
      img.hidden = true;
      fetch(src).then(function (r) { return r.text(); })
        .then(function (t) { err.textContent = t; });
    };
    img.onload = function () { img.hidden = false; };
    img.alt = 'preview of ' + c.parts[0];
    img.src = src;
  }
  function go(e) { location.href = e.target.getAttribute('data-href'); }
  document.getElementById('request').addEventListener('input', update);
  document.getElementById('request').addEventListener('change', update);
  document.getElementById('get-ascii').addEventListener('click', go);
  document.getElementById('get-binary').addEventListener('click', go);
  document.getElementById('preview-button').addEventListener('click', preview);
  update();
})();
</script>";

/// The file name the dataset was asked for under (links are relative to the folder).
fn file_name(req: &DatasetRequest) -> &str {
    req.url_path.rsplit('/').next().unwrap_or_default()
}

/// Prints DAS attributes as a definition list.
fn attributes_html(out: &mut String, attrs: &[DasAttr]) {
    if attrs.is_empty() {
        return;
    }
    out.push_str("<dl class=\"attrs\">");
    for a in attrs {
        let name = html_escape(&a.name);
        match &a.value {
            DasValue::Numbers { ty, values } => {
                let _ = write!(
                    out,
                    "<dt>{name}</dt><dd><span class=\"type\">{}</span> {}</dd>",
                    ty.name(),
                    html_escape(&values.join(", "))
                );
            }
            DasValue::Strings(values) => {
                let text: Vec<String> = values
                    .iter()
                    .map(|v| format!("\"{}\"", String::from_utf8_lossy(v)))
                    .collect();
                let _ = write!(
                    out,
                    "<dt>{name}</dt><dd>{}</dd>",
                    html_escape(&text.join(", "))
                );
            }
            DasValue::Container(members) => {
                let _ = write!(
                    out,
                    "<dt>{name}</dt><dd>&nbsp;</dd><dd style=\"clear:left\">"
                );
                attributes_html(out, members);
                out.push_str("</dd>");
            }
        }
    }
    out.push_str("</dl>");
}

fn type_label(node: &Node, grid: bool) -> String {
    let base = match node {
        Node::Atomic(a) => a.ty().name().to_owned(),
        Node::Structure { .. } => "Structure".to_owned(),
    };
    if grid {
        format!("Grid of {base}")
    } else {
        base
    }
}

fn shape_label(dims: &[Dim]) -> String {
    dims.iter()
        .map(|d| match &d.name {
            Some(n) => format!("[{n} = {}]", d.len),
            None => format!("[{}]", d.len),
        })
        .collect()
}

/// The data request form.
pub(crate) fn form(req: &DatasetRequest, ds: &Dap2Dataset) -> Bytes {
    let file = html_escape(file_name(req));
    let href = encode_component(file_name(req));
    let palettes: String = quicklook::PALETTES
        .iter()
        .map(|p| format!("<option value=\"{0}\">{0}</option>", p.name))
        .collect();
    let mut h = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Data request form: {file}</title>{STYLE}{FORM_STYLE}</head>\n<body>\n\
<h1>Data request form: {file}</h1>\n\
<p class=\"links\"><a href=\"./\">folder</a><a href=\"{href}.dds\">DDS</a><a href=\"{href}.das\">DAS</a><a href=\"{href}.dmr\">DMR</a><a href=\"{href}.info\">info</a><a href=\"{href}.help\">help</a><a href=\"{href}\">file</a></p>\n\
<form id=\"request\" onsubmit=\"return false\">\n\
<p><label for=\"data-url\"><b>Data URL</b> (for ncdump, pydap, xarray, Panoply):</label><br><input id=\"data-url\" type=\"text\" readonly></p>\n\
<p class=\"actions\"><button type=\"button\" id=\"get-ascii\">Get ASCII</button><button type=\"button\" id=\"get-binary\">Get binary (.dods)</button>\
<button type=\"button\" id=\"preview-button\">Preview</button> <label>palette <select id=\"palette\">{palettes}</select></label></p>\n\
<p><img id=\"preview\" hidden alt=\"\"></p><p id=\"preview-error\"></p>\n\
<p>Tick the variables you want and give each dimension <code>start</code>, <code>start:stop</code> or <code>start:stride:stop</code> (zero-based, stop included).</p>\n"
    );
    h.push_str("<h2>Variables</h2>\n");
    for (i, var) in ds.vars.iter().enumerate() {
        let name = html_escape(var.name());
        let ce_name = html_escape(&dap2::das::www_name(var.name()));
        let dims = var.node.dims();
        let _ = write!(
            h,
            "<fieldset class=\"var\" data-name=\"{ce_name}\"><legend><label><input type=\"checkbox\" class=\"pick\" id=\"pick-{i}\" name=\"{name}\"> {name}</label> <span class=\"type\">{} {}</span></legend>",
            type_label(&var.node, var.is_grid()),
            html_escape(&shape_label(dims))
        );
        for (j, d) in dims.iter().enumerate() {
            let dim_name = html_escape(d.name.as_deref().unwrap_or("dim"));
            let last = d.len.saturating_sub(1);
            let _ = write!(
                h,
                "<span class=\"dimlabel\"><label for=\"dim-{i}-{j}\">{dim_name} (0…{last})</label> <input class=\"dim\" id=\"dim-{i}-{j}\" data-len=\"{}\" value=\"0:1:{last}\" disabled></span>",
                d.len
            );
        }
        if !var.attributes.is_empty() {
            h.push_str("<details><summary>attributes</summary>");
            attributes_html(&mut h, &var.attributes);
            h.push_str("</details>");
        }
        h.push_str("</fieldset>\n");
    }
    if !ds.omitted.is_empty() {
        h.push_str("<p>Not available over DAP2 (use DAP4):</p><ul>");
        for o in &ds.omitted {
            let _ = write!(
                h,
                "<li><code>{}</code>: {}</li>",
                html_escape(&o.path),
                html_escape(&o.reason)
            );
        }
        h.push_str("</ul>\n");
    }
    h.push_str("<h2>Global attributes</h2>\n");
    attributes_html(&mut h, &ds.global);
    for g in &ds.groups {
        let _ = write!(h, "<h3>Group {}</h3>", html_escape(&g.name));
        attributes_html(&mut h, &g.attributes);
    }
    h.push_str("\n</form>\n");
    h.push_str(FORM_SCRIPT);
    h.push_str("\n</body></html>\n");
    Bytes::from(h)
}

/// `.info`: the dataset's structure as CDL, then its DDS and DAS.
pub(crate) fn info(req: &DatasetRequest, dds: &[u8], das: &[u8]) -> Bytes {
    let file = html_escape(file_name(req));
    let href = encode_component(file_name(req));
    let cdl = cdm::cdl::header(req.entry.dataset());
    let h = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Dataset information: {file}</title>{STYLE}</head>\n<body>\n\
<h1>Dataset information: {file}</h1>\n\
<p class=\"links\"><a href=\"./\">folder</a><a href=\"{href}.html\">data request form</a><a href=\"{href}.help\">help</a></p>\n\
<p>{} bytes, last modified {}.</p>\n\
<h2>Structure (CDL)</h2>\n<pre>{}</pre>\n\
<h2>DAP2 Dataset Descriptor Structure (<a href=\"{href}.dds\">.dds</a>)</h2>\n<pre>{}</pre>\n\
<h2>DAP2 Dataset Attribute Structure (<a href=\"{href}.das\">.das</a>)</h2>\n<pre>{}</pre>\n\
</body></html>\n",
        req.entry.size(),
        crate::conditional::iso_date(req.entry.modified()),
        html_escape(&cdl),
        html_escape(&String::from_utf8_lossy(dds)),
        html_escape(&String::from_utf8_lossy(das)),
    );
    Bytes::from(h)
}

/// `.help`: what each URL of the dataset returns and how constraints are written.
pub(crate) fn help(req: &DatasetRequest) -> Bytes {
    let file = html_escape(file_name(req));
    let href = encode_component(file_name(req));
    let ncss: String = req
        .url_path
        .split('/')
        .map(encode_component)
        .collect::<Vec<_>>()
        .join("/");
    let rows: &[(&str, &str)] = &[
        (".html", "this dataset's data request form"),
        (".info", "structure, DDS and DAS for people"),
        (
            ".dds",
            "DAP2 Dataset Descriptor Structure (types and shapes)",
        ),
        (".das", "DAP2 Dataset Attribute Structure (attributes)"),
        (".dods", "DAP2 binary data (XDR), for clients"),
        (".ascii", "DAP2 data as text"),
        (".ver", "server version"),
        (".dmr", "DAP4 Dataset Metadata Response"),
        (".dap", "DAP4 binary data"),
        (
            ".png",
            "a quick-look picture of a 2-D slice: <code>?var[0][0:1:99][0:1:199]&amp;palette=viridis&amp;range=LO,HI</code>",
        ),
        (
            ".nc",
            "netCDF-3 file of the DAP2 constraint (streamed; CDF-5 when needed)",
        ),
        (".nc4", "netCDF-4 file of the DAP2 constraint"),
        (".dap.nc", "netCDF-3 file of a DAP4 constraint (?dap4.ce=…)"),
        (
            ".dap.nc4",
            "netCDF-4 file of a DAP4 constraint (?dap4.ce=…)",
        ),
        ("", "the file itself (supports Range requests)"),
    ];
    let mut h = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Help: {file}</title>{STYLE}</head>\n<body>\n\
<h1>Help: {file}</h1>\n<p class=\"links\"><a href=\"./\">folder</a><a href=\"{href}.html\">data request form</a><a href=\"{href}.info\">info</a></p>\n\
<h2>Responses</h2>\n<table><tr><th>URL</th><th>returns</th></tr>\n"
    );
    for (suffix, what) in rows {
        let _ = writeln!(
            h,
            "<tr><td><a href=\"{href}{suffix}\"><code>{file}{suffix}</code></a></td><td>{what}</td></tr>"
        );
    }
    let palette_list: String = quicklook::PALETTES
        .iter()
        .map(|p| format!("<li><code>{}</code>: {}</li>", p.name, p.description))
        .collect();
    let _ = write!(
        h,
        "</table>\n<h2>Constraints</h2>\n\
<p>DAP2 responses take a constraint expression after <code>?</code>: a comma-separated list of variables, each \
dimension sliced with <code>[start]</code>, <code>[start:stop]</code> or <code>[start:stride:stop]</code> (zero-based, stop \
included), for example <code>{file}.ascii?temp[0:1:9][2]</code>. DAP4 responses take <code>?dap4.ce=/temp[0:9][2]</code>.</p>\n\
<h2>Pictures</h2>\n\
<p><code>{file}.png?var[…]</code> draws the slice the DAP2 constraint selects: at most two dimensions with more than one \
index (columns are the last one; rows the other, north up when it is the latitude). Fill values and NaN are transparent. \
<code>range=LO,HI</code> sets the values at the palette's ends (default: the slice's minimum and maximum); the range \
drawn is in the PNG's <code>range</code> text chunk, and <code>colorbar=true</code> draws it under the picture as a colour bar with the two numbers. Palettes (<code>palette=</code>):</p>\n<ul>{palette_list}</ul>\n\
<h2>Clients</h2>\n<ul><li><code>ncdump -h http://…/{file}</code></li>\
<li><code>xarray.open_dataset(\"http://…/{file}\", engine=\"pydap\")</code></li>\
<li>Panoply / netCDF-Java ToolsUI: open the URL, or browse <a href=\"catalog.xml\">catalog.xml</a></li>\
<li>A netCDF file of a subset: <code>curl -OJ 'http://…/{file}.nc4?temp[0:1:9][2]'</code>; by coordinates \
(NetCDF Subset Service, siphon's <code>NCSS</code>): <a href=\"/ncss/grid{ncss}/dataset.xml\"><code>/ncss/grid{ncss}?var=…&amp;north=…&amp;south=…&amp;east=…&amp;west=…&amp;time_start=…&amp;time_end=…&amp;accept=netcdf4</code></a></li></ul>\n\
</body></html>\n"
    );
    Bytes::from(h)
}
