//! Chunks made from decoded values: full-size edge chunks padded with the fill value, and
//! strings in the `vlen-utf8` layout.

use crate::Error;
use crate::store::Array;

impl Array {
    /// The extent of the chunk at `g` that lies inside the array.
    fn extent(&self, g: &[usize]) -> Vec<usize> {
        g.iter()
            .zip(&self.chunk)
            .zip(&self.shape)
            .map(|((&i, &c), &n)| c.min(n.saturating_sub(i.saturating_mul(c))))
            .collect()
    }

    /// The chunk at `g` from `values`, the canonical (little-endian) values of
    /// [`Array::region`]`(g)`: full chunk size, the part outside the array filled with the fill
    /// value, as Zarr stores edge chunks.
    ///
    /// # Errors
    /// [`Error::Length`] when `values` is not the region's size.
    pub fn raw_chunk(&self, g: &[usize], values: &[u8]) -> Result<Vec<u8>, Error> {
        let elem = self.elem_size.max(1);
        let ext = self.extent(g);
        let expected = ext.iter().product::<usize>() * elem;
        if values.len() != expected {
            return Err(Error::Length {
                got: values.len(),
                expected,
            });
        }
        if ext == self.chunk {
            return Ok(values.to_vec());
        }
        let total = self.chunk.iter().product::<usize>();
        let mut out = Vec::with_capacity(total * elem);
        for _ in 0..total {
            out.extend_from_slice(&self.fill);
        }
        let rank = ext.len();
        if rank == 0 || expected == 0 {
            return Ok(out);
        }
        // Copy row by row (rows along the last dimension) into the padded chunk.
        let row = ext[rank - 1] * elem;
        let rows = expected / row.max(1);
        let mut idx = vec![0usize; rank - 1];
        for r in 0..rows {
            let mut offset = 0usize;
            for (d, &i) in idx.iter().enumerate() {
                offset = (offset + i) * self.chunk[d + 1];
            }
            let dst = offset * elem;
            out[dst..dst + row].copy_from_slice(&values[r * row..(r + 1) * row]);
            for d in (0..rank - 1).rev() {
                idx[d] += 1;
                if idx[d] < ext[d] {
                    break;
                }
                idx[d] = 0;
            }
        }
        Ok(out)
    }

    /// The chunk at `g` of a string array in the `vlen-utf8` layout (item count, then each
    /// item's length and bytes, little-endian `u32`s), from `values`, the canonical strings
    /// (`u64` length, then the bytes) of [`Array::region`]`(g)`; the part outside the array holds
    /// empty strings.
    ///
    /// # Errors
    /// [`Error::Length`] when `values` does not hold the region's strings, [`Error::TooLong`]
    /// when a string or the chunk does not fit Zarr's 32-bit lengths.
    pub fn vlen_utf8_chunk(&self, g: &[usize], values: &[u8]) -> Result<Vec<u8>, Error> {
        let ext = self.extent(g);
        let count = ext.iter().product::<usize>();
        let mut items: Vec<&[u8]> = Vec::with_capacity(count);
        let mut rest = values;
        for _ in 0..count {
            let (len, tail) = rest.split_at_checked(8).ok_or(Error::Truncated)?;
            let len = u64::from_le_bytes(len.try_into().map_err(|_| Error::Truncated)?);
            let len = usize::try_from(len).map_err(|_| Error::Truncated)?;
            let (item, tail) = tail.split_at_checked(len).ok_or(Error::Truncated)?;
            items.push(item);
            rest = tail;
        }
        if !rest.is_empty() {
            return Err(Error::Length {
                got: values.len(),
                expected: values.len() - rest.len(),
            });
        }
        let total = self.chunk.iter().product::<usize>().max(1);
        let mut full: Vec<&[u8]> = vec![b""; total];
        if ext == self.chunk || ext.is_empty() {
            for (slot, item) in full.iter_mut().zip(items) {
                *slot = item;
            }
        } else {
            for (k, item) in items.into_iter().enumerate() {
                // Position of the k-th region element inside the full chunk.
                let mut rem = k;
                let mut pos = 0usize;
                let mut scale = 1usize;
                for d in (0..ext.len()).rev() {
                    let i = rem % ext[d].max(1);
                    rem /= ext[d].max(1);
                    pos += i * scale;
                    scale *= self.chunk[d];
                }
                full[pos] = item;
            }
        }
        let n = u32::try_from(full.len()).map_err(|_| Error::TooLong)?;
        let mut out = Vec::with_capacity(4 + full.iter().map(|s| 4 + s.len()).sum::<usize>());
        out.extend_from_slice(&n.to_le_bytes());
        for s in full {
            let len = u32::try_from(s.len()).map_err(|_| Error::TooLong)?;
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(s);
        }
        Ok(out)
    }
}
