// SPDX-License-Identifier: GPL-2.0

//! Access to a [`Reservation`]'s bytes, for the KUnit tests that look at what a bounce left there.

use super::*;

impl Reservation {
    /// Copies `buf.len()` bytes at `offset` out of the range, for tests that look at what a
    /// bounce left there.
    pub(crate) fn read(&self, offset: usize, buf: &mut [u8]) -> Result {
        let end = offset.checked_add(buf.len()).ok_or(EINVAL)?;
        if end > self.size() {
            return Err(EINVAL);
        }
        // SAFETY: `offset..end` lies inside the range, which is valid memory while `self.pages`
        // lives; the bytes are plain data
        // (a device may write them concurrently, so the copy may be torn, never unsound).
        unsafe {
            core::ptr::copy_nonoverlapping(
                self.pages.as_ptr().add(offset),
                buf.as_mut_ptr(),
                buf.len(),
            )
        };
        Ok(())
    }

    /// Writes `buf` at `offset` into the range, as a device would.
    pub(crate) fn write(&self, offset: usize, buf: &[u8]) -> Result {
        let end = offset.checked_add(buf.len()).ok_or(EINVAL)?;
        if end > self.size() {
            return Err(EINVAL);
        }
        // SAFETY: as in `read`; the memory is ours and holds plain bytes.
        unsafe {
            core::ptr::copy_nonoverlapping(buf.as_ptr(), self.pages.as_ptr().add(offset), buf.len())
        };
        Ok(())
    }
}
