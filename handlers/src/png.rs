//! `.png`: the quick-look picture of a 2-D slice. The DAP2 constraint selects the slice (the
//! `dap2` crate binds it), the `quicklook` crate checks, unpacks and draws it; this module reads
//! the values and the latitudes and answers with the image, or with the DAP2 error body.

use bytes::Bytes;
use cdm::Hyperslab;
use cdm::cf::Axis;
use dap2::constraint::VarSel;
use http::header::{self, HeaderValue};

use crate::DatasetRequest;
use crate::body::{Body, full};
use crate::error::HandlerError;

impl From<quicklook::Error> for HandlerError {
    fn from(e: quicklook::Error) -> Self {
        match e {
            quicklook::Error::BadParameter(m)
            | quicklook::Error::NotASlice(m)
            | quicklook::Error::NotNumeric(m) => Self::BadRequest(m),
            quicklook::Error::TooLarge(m) => Self::TooLarge(m),
            quicklook::Error::Encode(_) => Self::Internal(e.to_string()),
        }
    }
}

/// Answers `X.png?VAR[…]&palette=…&range=…`.
pub(crate) async fn respond(
    req: &DatasetRequest,
    max_pixels: usize,
) -> Result<http::Response<Body>, HandlerError> {
    let (ce, options) = quicklook::Options::split_query(req.query.as_deref().unwrap_or(""))?;
    let ds = crate::dap2::mapped(&req.entry);
    // No constraint: the first field's first 2-D slice, so that `X.png` alone shows something.
    let ce = if ce.trim().is_empty() {
        first_slice(&ds).ok_or_else(|| {
            HandlerError::BadRequest("this dataset has no numeric array to draw".into())
        })?
    } else {
        ce
    };
    let projected = dap2::constrain(&ds, Some(&ce))?;
    let [one] = projected.as_slice() else {
        return Err(HandlerError::BadRequest(format!(
            "a picture shows one variable, this constraint selects {}: e.g. {}",
            projected.len(),
            example(req, &ds)
        )));
    };
    let var2 = ds
        .vars
        .get(one.index)
        .ok_or_else(|| HandlerError::Internal("projection out of the dataset".into()))?;
    let ranges = match &one.sel {
        VarSel::Atomic(r) => r.clone(),
        VarSel::Grid(g) => g.array.clone().ok_or_else(|| {
            HandlerError::BadRequest(format!(
                "a picture shows the array of Grid {0}, not only its maps: ask for {0}[…]",
                var2.name()
            ))
        })?,
        VarSel::Structure(_) => {
            return Err(HandlerError::BadRequest(format!(
                "{} is a Structure; a picture shows a numeric array",
                var2.name()
            )));
        }
    };
    let dataset = req.entry.dataset();
    let var = dataset
        .variable(&var2.path)
        .ok_or_else(|| HandlerError::Internal(format!("no variable {}", var2.path)))?;
    let slice = quicklook::Slice::new(var2.name(), var, &ranges, max_pixels)?;

    let source = req.entry.source().as_ref();
    let slab = Hyperslab::new(ranges.clone(), &var.shape())
        .map_err(|e| HandlerError::BadRequest(e.to_string()))?;
    let bytes = cdm::read_all(source, &var.path, &slab).await?;

    // North up: the rows run along the latitude and its selected values ascend.
    let mut flip = false;
    if let Some(row_dim) = slice.row_dim
        && let Some(lat) = cdm::cf::axes_of(dataset, var)
            .into_iter()
            .find(|a| a.axis == Axis::Y && a.dim_index == row_dim)
        && let Some(lat_var) = dataset.variable(&lat.path)
        && let Some(range) = ranges.get(row_dim)
    {
        let lat_slab = Hyperslab::new(vec![*range], &lat_var.shape())
            .map_err(|e| HandlerError::Internal(e.to_string()))?;
        let lat_bytes = cdm::read_all(source, &lat_var.path, &lat_slab).await?;
        let lats = cdm::cf::numbers(&lat_var.dtype, &lat_bytes)
            .map_err(|e| HandlerError::Internal(e.to_string()))?;
        flip = quicklook::Slice::flip_for(&lats);
    }

    let caption = quicklook::Caption {
        title: var2.name().to_owned(),
        units: cdm::cf::units(var),
    };
    // Unpacking and drawing a few million values is CPU work: off the async runtime.
    let var = var.clone();
    let picture = tokio::task::spawn_blocking(move || {
        let values = quicklook::unpack(&var, &bytes)?;
        quicklook::render(&values, slice.rows, slice.cols, flip, &options, &caption)
    })
    .await
    .map_err(|e| HandlerError::Internal(e.to_string()))??;
    let bytes = Bytes::from(picture.png);
    http::Response::builder()
        .header(header::CONTENT_TYPE, HeaderValue::from_static("image/png"))
        .header(header::CONTENT_LENGTH, bytes.len())
        .body(full(bytes))
        .map_err(|e| HandlerError::Internal(e.to_string()))
}

/// The constraint of the first 2-D slice of the dataset's first numeric array with two or more
/// dimensions (the leading ones fixed at 0), or of its first numeric array.
fn first_slice(ds: &dap2::Dap2Dataset) -> Option<String> {
    let numeric = |v: &&dap2::mapping::Dap2Var| {
        matches!(&v.node, dap2::mapping::Node::Atomic(a) if !a.ty().is_string())
            && v.node.dims().iter().all(|d| d.len > 0)
    };
    let var = ds
        .vars
        .iter()
        .filter(numeric)
        .find(|v| v.node.dims().len() >= 2)
        .or_else(|| ds.vars.iter().find(numeric))?;
    let dims = var.node.dims();
    let slice: String = dims
        .iter()
        .enumerate()
        .map(|(i, d)| {
            if i + 2 < dims.len() {
                "[0]".to_owned()
            } else {
                format!("[0:1:{}]", d.len.saturating_sub(1))
            }
        })
        .collect();
    Some(format!("{}{slice}", dap2::das::www_name(var.name())))
}

/// A request that works on this dataset, for messages.
fn example(req: &DatasetRequest, ds: &dap2::Dap2Dataset) -> String {
    let name = req.url_path.rsplit('/').next().unwrap_or_default();
    let ce = first_slice(ds).unwrap_or_else(|| "var[0:1:9][0:1:9]".into());
    format!("{name}.png?{ce}&palette=viridis")
}
