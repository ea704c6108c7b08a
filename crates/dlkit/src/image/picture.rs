//! A picture as it is on disk, Keras' `load_img`: to look at a photo before
//! [`load_digit`](super::load_digit) prepares it, or to drop down to its pixels.

use std::io::Cursor;
use std::path::Path;

use base64::Engine as _;
use candle_core::{Device, Tensor};
use image::imageops::FilterType;
use image::{ImageFormat, RgbImage};

use crate::display::emit;
use crate::error::{Error, Result};

/// A notebook shows a picture at most this wide or tall (in screen pixels);
/// larger ones are shown scaled down, their pixels kept.
const SHOWN_SIDE: u32 = 320;

/// A decoded picture in 8-bit RGB (transparency dropped, greyscale expanded),
/// shown as an image when it is a cell's result.
#[derive(Clone)]
pub struct Picture {
    what: String,
    rgb: RgbImage,
}

/// Reads a PNG or JPEG as it is, like Keras' `keras.utils.load_img(path)`;
/// the same checks as [`load_digit`](super::load_digit) guard it (size of the
/// file and of the picture, truncated data), with errors that name the file.
///
/// ```no_run
/// let photo = dlkit::image::load_img("my_seven.jpg")?;
/// let (width, height) = photo.size();
/// let pixels = photo.to_tensor()?; // (height, width, 3), u8
/// # Ok::<(), dlkit::Error>(())
/// ```
pub fn load_img(path: impl AsRef<Path>) -> Result<Picture> {
    let path = path.as_ref();
    let bytes = super::read_picture_file(path)?;
    let what = path.display().to_string();
    let rgb = super::decode(&bytes, &what)?.to_rgb8();
    Ok(Picture { what, rgb })
}

impl Picture {
    /// Width and height in pixels, as Pillow's `img.size`.
    pub fn size(&self) -> (u32, u32) {
        self.rgb.dimensions()
    }

    /// The pixels as a `(height, width, 3)` `u8` tensor, Keras' `img_to_array`
    /// (channels last, 0..255).
    pub fn to_tensor(&self) -> Result<Tensor> {
        let (width, height) = self.size();
        Ok(Tensor::from_slice(
            self.rgb.as_raw(),
            (height as usize, width as usize, 3),
            &Device::Cpu,
        )?)
    }

    /// The PNG a notebook shows: the picture, scaled down to fit
    /// [`SHOWN_SIDE`] if it is larger.
    pub fn to_png(&self) -> Result<Vec<u8>> {
        let (width, height) = self.size();
        let shown = if width.max(height) > SHOWN_SIDE {
            let scale = f64::from(SHOWN_SIDE) / f64::from(width.max(height));
            let fit = |side: u32| ((f64::from(side) * scale).round() as u32).max(1);
            image::imageops::resize(&self.rgb, fit(width), fit(height), FilterType::Triangle)
        } else {
            self.rgb.clone()
        };
        let mut png = Vec::new();
        shown
            .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
            .map_err(|e| Error::Image(format!("{}: could not encode it as PNG: {e}", self.what)))?;
        Ok(png)
    }

    /// Rich output for evcxr: the picture, and a line of text saying what it is.
    pub fn evcxr_display(&self) {
        let (width, height) = self.size();
        let text = format!("{}: {width}×{height} pixels, RGB", self.what);
        match self.to_png() {
            Ok(png) => emit(&[
                (
                    "image/png",
                    &base64::engine::general_purpose::STANDARD.encode(png),
                ),
                ("text/plain", &text),
            ]),
            Err(err) => emit(&[("text/plain", &format!("{text} (not shown: {err})"))]),
        }
    }
}

impl std::fmt::Debug for Picture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (width, height) = self.size();
        write!(f, "Picture({}: {width}×{height} RGB)", self.what)
    }
}
