//! Your own handwritten digit, prepared the way MNIST's digits were.
//!
//! MNIST's digits were size-normalised to fit a 20×20 box keeping their aspect
//! ratio (anti-aliased, hence the grey levels) and then centred in a 28×28
//! field by their centre of mass, light ink on a black background. A photo or
//! scan of a digit written on paper looks nothing like that, so
//! [`load_digit`] takes it through the same steps:
//!
//! 1. grayscale (transparent pixels count as white paper);
//! 2. ink made bright: the picture is inverted when the ink is darker than the
//!    background (decided from the border, which is mostly background);
//! 3. uneven lighting removed by subtracting a smooth estimate of the
//!    background, and faint noise below a quarter of the ink's contrast
//!    dropped, as are specks far smaller than the digit's largest stroke;
//! 4. cropped to the ink's bounding box; thin pen strokes are thickened so that
//!    they end up about as wide as MNIST's (2–3 pixels);
//! 5. scaled to fit 20×20 keeping the aspect ratio (triangle filter, which
//!    averages over the source pixels when shrinking), stretched to [0, 1];
//! 6. placed in 28×28 so that the centre of mass is at row 14, column 14.
//!
//! The result is a `(28, 28)` `f32` tensor with values in [0, 1], like
//! `x_train[i] / 255`. Reshape it for the model you trained:
//!
//! ```no_run
//! use dlkit::image::load_digit;
//! let digit = load_digit("my_seven.png")?;          // (28, 28), f32 in [0, 1]
//! let nchw = digit.reshape((1, 1, 28, 28))?;        // channels first, as tutorials 001-003
//! let nhwc = digit.reshape((1, 28, 28, 1))?;        // channels last, as tutorials 000 and 004
//! let flat = digit.reshape((1, 784))?;              // for a Dense-only network
//! # Ok::<(), dlkit::Error>(())
//! ```
//!
//! Write the digit large, with a thick dark pen on plain light paper, and
//! photograph it straight on; light ink on a dark background works as well.
//! [`load_img`] shows the picture as it was taken, to compare.

mod picture;

pub use picture::{load_img, Picture};

use std::path::Path;

use std::io::Cursor;

use candle_core::{Device, Tensor};
use image::imageops::{self, FilterType};
use image::{GenericImageView, ImageBuffer, ImageReader, Limits, Luma};

use crate::error::{Error, Result};

/// Side of the prepared image, as MNIST.
pub const SIZE: usize = 28;
/// Side of the box the digit is scaled into, as MNIST.
pub const BOX: usize = 20;
/// Pictures larger than this (in either direction) are first shrunk to it.
const MAX_WORKING_SIDE: u32 = 1024;
/// The largest picture [`load_digit`] decodes, in pixels, read from the file's
/// header before anything is decoded. 100 megapixels is above what phones and
/// scanners write by default (12–50 MP; 200 MP sensors bin to 12.5 MP), and
/// decoding that many pixels takes at most about 400 MB (RGBA, 8 bits each)
/// and a second or two; a 20000×20000 picture (400 MP) would take 1.6 GB.
pub const MAX_PIXELS: u64 = 100_000_000;
/// The largest file [`load_digit`] reads: photos of up to [`MAX_PIXELS`] are
/// JPEGs of tens of MB or PNGs of a few hundred; anything larger is not a
/// picture of a digit (a video, a disk image picked by mistake) and would be
/// read into memory whole.
pub const MAX_FILE_BYTES: u64 = 512 * 1024 * 1024;
/// What a decoder may allocate: 100 MP at up to 8 bytes a pixel (16-bit RGBA
/// PNGs), so that every picture within [`MAX_PIXELS`] can be decoded.
const MAX_DECODER_BYTES: u64 = 8 * MAX_PIXELS;
/// Blocks per side for the background estimate, and the percentile of each
/// block taken as its background (ink rarely covers most of a block).
const BACKGROUND_BLOCKS: usize = 6;
const BACKGROUND_PERCENTILE: f32 = 0.15;
/// Ink must stand out from the background by this much (0..1) or the picture is blank.
const MIN_CONTRAST: f32 = 0.08;
/// Pixels below this fraction of the ink's contrast are background noise.
const NOISE_FRACTION: f32 = 0.25;
/// Pieces of ink lighter than this fraction of the heaviest piece are specks.
const SPECK_FRACTION: f32 = 0.05;
/// MNIST strokes are 2.2–3.9 pixels wide (10th–90th percentile, measured as
/// 2 × area / boundary); thinner strokes are thickened to this width.
const MIN_STROKE: f32 = 2.2;
const TARGET_STROKE: f32 = 2.6;

/// Reads a photo or scan (PNG or JPEG) of one handwritten digit and prepares it
/// like MNIST: a `(28, 28)` `f32` tensor in [0, 1], light ink on black.
pub fn load_digit(path: impl AsRef<Path>) -> Result<Tensor> {
    let path = path.as_ref();
    let bytes = read_picture_file(path)?;
    prepare(&bytes, &path.display().to_string())
}

/// The bytes of a picture file, refusing files far larger than any photo.
fn read_picture_file(path: &Path) -> Result<Vec<u8>> {
    let size = std::fs::metadata(path)
        .map_err(|e| Error::io(path, e))?
        .len();
    if size > MAX_FILE_BYTES {
        return Err(Error::Image(format!(
            "{}: the file is {} MiB, more than the {} MiB a picture of a digit may take; \
             is it the right file?",
            path.display(),
            size >> 20,
            MAX_FILE_BYTES >> 20
        )));
    }
    std::fs::read(path).map_err(|e| Error::io(path, e))
}

/// [`load_digit`] for an image already in memory (the bytes of a PNG or JPEG file).
pub fn load_digit_from_memory(bytes: &[u8]) -> Result<Tensor> {
    prepare(bytes, "the image in memory")
}

/// A grayscale picture, row-major, values in [0, 1].
#[derive(Clone, Debug)]
struct Plane {
    width: usize,
    height: usize,
    values: Vec<f32>,
}

impl Plane {
    fn at(&self, x: usize, y: usize) -> f32 {
        self.values[y * self.width + x]
    }

    fn to_buffer(&self) -> ImageBuffer<Luma<f32>, Vec<f32>> {
        // Sizes come from this Plane, so the buffer always has the right length.
        ImageBuffer::from_raw(self.width as u32, self.height as u32, self.values.clone())
            .unwrap_or_else(|| ImageBuffer::new(self.width as u32, self.height as u32))
    }

    fn from_buffer(buffer: ImageBuffer<Luma<f32>, Vec<f32>>) -> Plane {
        Plane {
            width: buffer.width() as usize,
            height: buffer.height() as usize,
            values: buffer.into_raw(),
        }
    }

    fn resized(&self, width: usize, height: usize) -> Plane {
        Plane::from_buffer(imageops::resize(
            &self.to_buffer(),
            width as u32,
            height as u32,
            FilterType::Triangle,
        ))
    }
}

fn prepare(bytes: &[u8], what: &str) -> Result<Tensor> {
    let decoded = decode(bytes, what)?;
    let gray = grayscale(&decoded);
    drop(decoded);
    let ink = bright_ink(&gray);
    let ink = remove_background(&ink);
    let ink = keep_digit(&ink, what)?;
    let digit = crop_to_ink(&ink);
    let digit = thicken_thin_strokes(&digit);
    let boxed = fit_box(&digit);
    let field = centre_by_mass(&boxed);
    Ok(Tensor::from_vec(field.values, (SIZE, SIZE), &Device::Cpu)?)
}

/// Decodes a PNG or JPEG, refusing pictures over [`MAX_PIXELS`] (checked on the
/// header, before decoding) and files cut short.
fn decode(bytes: &[u8], what: &str) -> Result<image::DynamicImage> {
    if bytes.is_empty() {
        return Err(Error::Image(format!(
            "{what}: the file is empty, not an image"
        )));
    }
    let unreadable = |e: &dyn std::fmt::Display| {
        Error::Image(format!(
            "{what}: not an image that can be read (PNG or JPEG expected): {e}"
        ))
    };
    let reader = || -> Result<ImageReader<Cursor<&[u8]>>> {
        let mut reader = ImageReader::new(Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| unreadable(&e))?;
        let mut limits = Limits::default();
        limits.max_alloc = Some(MAX_DECODER_BYTES);
        reader.limits(limits);
        Ok(reader)
    };
    if let Some(cut) = jpeg_truncation(bytes) {
        return Err(Error::Image(format!(
            "{what}: the JPEG data is truncated: {cut}. The file was cut short (an incomplete \
             download or copy?); copy or save it again"
        )));
    }
    let (width, height) = reader()?.into_dimensions().map_err(|e| unreadable(&e))?;
    let pixels = u64::from(width) * u64::from(height);
    if pixels > MAX_PIXELS {
        return Err(Error::Image(format!(
            "{what}: the picture is {width}×{height} pixels ({:.0} megapixels); load_digit reads \
             pictures of up to {} megapixels. Shrink it first (a digit needs no more than about \
             1000×1000 pixels)",
            pixels as f64 / 1e6,
            MAX_PIXELS / 1_000_000
        )));
    }
    reader()?.decode().map_err(|e| match e {
        image::ImageError::Limits(limit) => Error::Image(format!(
            "{what}: the picture ({width}×{height} pixels) needs more memory to decode than the \
             {} MB load_digit allows ({limit}); shrink it first",
            MAX_DECODER_BYTES / 1_000_000
        )),
        other => unreadable(&other),
    })
}

/// If `bytes` is a JPEG whose main image is cut short, says how; `None` for a
/// complete JPEG, for anything that is not a JPEG, and for marker structure
/// this simple walk does not follow (the decoder judges those).
///
/// A complete JPEG ends its entropy-coded data with the end-of-image marker
/// `FF D9`, which cannot occur inside that data (a data byte `FF` is always
/// followed by `00` or a restart marker). The decoder fills a missing end with
/// grey without a word, so this is checked here: the marker segments are
/// walked by their lengths up to the first start-of-scan (skipping any EXIF
/// thumbnail, which has its own `FF D9`), and an `FF D9` must follow it.
fn jpeg_truncation(bytes: &[u8]) -> Option<String> {
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut i = 2;
    let scan_start = loop {
        while bytes.get(i) == Some(&0xFF) && bytes.get(i + 1) == Some(&0xFF) {
            i += 1;
        }
        if i + 4 > bytes.len() {
            return Some(format!(
                "it ends after {} bytes, inside its headers",
                bytes.len()
            ));
        }
        if bytes[i] != 0xFF {
            return None;
        }
        let marker = bytes[i + 1];
        if matches!(marker, 0x01 | 0xD0..=0xD8) {
            i += 2;
            continue;
        }
        if marker == 0xD9 {
            return Some("it ends before any image data".to_string());
        }
        let length = usize::from(u16::from_be_bytes([bytes[i + 2], bytes[i + 3]]));
        if marker == 0xDA {
            break i + 2 + length;
        }
        i += 2 + length;
    };
    let data = bytes.get(scan_start..).unwrap_or(&[]);
    if data.windows(2).any(|w| w == [0xFF, 0xD9]) {
        None
    } else {
        Some(format!(
            "its image data stops after {} bytes without the end-of-image marker",
            bytes.len()
        ))
    }
}

/// Luminance in [0, 1], transparent pixels composited over white paper, shrunk
/// to at most [`MAX_WORKING_SIDE`] pixels a side.
///
/// A picture larger than that is shrunk while it is converted, by averaging
/// whole `k`×`k` blocks (touching each pixel once, holding no more than the
/// decoded picture and a plane of at most about 2048×2048), then resized to
/// the working size with the triangle filter as smaller pictures are.
fn grayscale(image: &image::DynamicImage) -> Plane {
    let (width, height) = (image.width() as usize, image.height() as usize);
    let longest = width.max(height);
    let luma = |[r, g, b, a]: [f32; 4]| {
        let luma = 0.2126 * r + 0.7152 * g + 0.0722 * b;
        (a * luma + (1.0 - a)).clamp(0.0, 1.0)
    };
    if longest <= MAX_WORKING_SIDE as usize {
        let rgba = image.to_rgba32f();
        return Plane {
            width,
            height,
            values: rgba.pixels().map(|p| luma(p.0)).collect(),
        };
    }
    let k = longest / MAX_WORKING_SIDE as usize;
    let (bw, bh) = (width.div_ceil(k), height.div_ceil(k));
    let mut sums = vec![0f32; bw * bh];
    let mut counts = vec![0u32; bw * bh];
    for (x, y, p) in image.pixels() {
        let cell = (y as usize / k) * bw + x as usize / k;
        sums[cell] += luma(p.0.map(|c| f32::from(c) / 255.0));
        counts[cell] += 1;
    }
    let values = sums
        .iter()
        .zip(&counts)
        .map(|(&s, &n)| s / n.max(1) as f32)
        .collect();
    let plane = Plane {
        width: bw,
        height: bh,
        values,
    };
    let longest = plane.width.max(plane.height);
    if longest > MAX_WORKING_SIDE as usize {
        let scale = f64::from(MAX_WORKING_SIDE) / longest as f64;
        let w = ((plane.width as f64 * scale).round() as usize).max(1);
        let h = ((plane.height as f64 * scale).round() as usize).max(1);
        plane.resized(w, h)
    } else {
        plane
    }
}

fn percentile(values: &mut [f32], q: f32) -> f32 {
    if values.is_empty() {
        return 0.0;
    }
    let k = ((values.len() - 1) as f32 * q).round() as usize;
    let (_, v, _) = values.select_nth_unstable_by(k, |a, b| a.total_cmp(b));
    *v
}

/// Inverts the picture if its ink is darker than its background, so ink is bright.
///
/// The background level is the median of the border (a frame 2% of the
/// picture wide); the ink is whichever side of it deviates more in total.
fn bright_ink(gray: &Plane) -> Plane {
    let (w, h) = (gray.width, gray.height);
    let ring = (w.min(h) / 50).max(1);
    let mut border: Vec<f32> = (0..h)
        .flat_map(|y| (0..w).map(move |x| (x, y)))
        .filter(|&(x, y)| x < ring || y < ring || x + ring >= w || y + ring >= h)
        .map(|(x, y)| gray.at(x, y))
        .collect();
    let background = percentile(&mut border, 0.5);
    let (darker, lighter) = gray.values.iter().fold((0f32, 0f32), |(d, l), &v| {
        (d + (background - v).max(0.0), l + (v - background).max(0.0))
    });
    if darker > lighter {
        Plane {
            values: gray.values.iter().map(|v| 1.0 - v).collect(),
            ..gray.clone()
        }
    } else {
        gray.clone()
    }
}

/// Subtracts a smooth background (a low percentile per block, interpolated
/// bilinearly between block centres) so that uneven lighting leaves no haze.
fn remove_background(ink: &Plane) -> Plane {
    let (w, h) = (ink.width, ink.height);
    let bx = BACKGROUND_BLOCKS.min(w);
    let by = BACKGROUND_BLOCKS.min(h);
    let mut levels = vec![0f32; bx * by];
    for j in 0..by {
        for i in 0..bx {
            let (x0, x1) = (i * w / bx, (i + 1) * w / bx);
            let (y0, y1) = (j * h / by, (j + 1) * h / by);
            let mut block: Vec<f32> = (y0..y1)
                .flat_map(|y| (x0..x1).map(move |x| (x, y)))
                .map(|(x, y)| ink.at(x, y))
                .collect();
            levels[j * bx + i] = percentile(&mut block, BACKGROUND_PERCENTILE);
        }
    }
    // Position of a pixel in block-centre coordinates, clamped to the outer centres.
    let coord = |p: usize, n: usize, blocks: usize| -> (usize, usize, f32) {
        let c = ((p as f32 + 0.5) * blocks as f32 / n as f32 - 0.5).clamp(0.0, (blocks - 1) as f32);
        let i0 = c.floor() as usize;
        let i1 = (i0 + 1).min(blocks - 1);
        (i0, i1, c - i0 as f32)
    };
    let mut values = Vec::with_capacity(w * h);
    for y in 0..h {
        let (j0, j1, fy) = coord(y, h, by);
        for x in 0..w {
            let (i0, i1, fx) = coord(x, w, bx);
            let top = levels[j0 * bx + i0] * (1.0 - fx) + levels[j0 * bx + i1] * fx;
            let bottom = levels[j1 * bx + i0] * (1.0 - fx) + levels[j1 * bx + i1] * fx;
            let background = top * (1.0 - fy) + bottom * fy;
            values.push((ink.at(x, y) - background).max(0.0));
        }
    }
    Plane {
        width: w,
        height: h,
        values,
    }
}

/// Keeps the digit's ink: stretches it so full ink is 1, zeroes pixels below
/// the noise threshold and removes specks. Fails when there is no ink at all.
fn keep_digit(ink: &Plane, what: &str) -> Result<Plane> {
    let (w, h) = (ink.width, ink.height);
    // The strongest 3×3 average: ink strokes survive it, single noisy pixels do not.
    let mut contrast = 0f32;
    for y in 0..h {
        for x in 0..w {
            let (mut sum, mut n) = (0f32, 0f32);
            for yy in y.saturating_sub(1)..(y + 2).min(h) {
                for xx in x.saturating_sub(1)..(x + 2).min(w) {
                    sum += ink.at(xx, yy);
                    n += 1.0;
                }
            }
            contrast = contrast.max(sum / n);
        }
    }
    if contrast < MIN_CONTRAST {
        return Err(Error::Image(format!(
            "{what}: no digit found — the picture is blank (nothing stands out from the background by \
             more than {:.0}%); write the digit with a dark, thick pen on plain paper",
            100.0 * MIN_CONTRAST
        )));
    }
    let threshold = NOISE_FRACTION * contrast;
    let mask: Vec<bool> = ink.values.iter().map(|&v| v > threshold).collect();
    let (labels, masses) = components(&mask, ink, w, h);
    let heaviest = masses.iter().copied().fold(0f32, f32::max);
    let keep: Vec<bool> = masses
        .iter()
        .map(|&m| m >= SPECK_FRACTION * heaviest)
        .collect();
    let mut kept: Vec<f32> = ink
        .values
        .iter()
        .zip(&labels)
        .filter(|(_, &l)| l != usize::MAX && keep[l])
        .map(|(&v, _)| v)
        .collect();
    let full = percentile(&mut kept, 0.9);
    let span = (full - threshold).max(1e-6);
    let values = ink
        .values
        .iter()
        .zip(&labels)
        .map(|(&v, &l)| {
            if l != usize::MAX && keep[l] {
                ((v - threshold) / span).clamp(0.0, 1.0)
            } else {
                0.0
            }
        })
        .collect();
    Ok(Plane {
        width: w,
        height: h,
        values,
    })
}

/// 8-connected pieces of `mask`: each pixel's piece (`usize::MAX` off the mask)
/// and each piece's total ink.
fn components(mask: &[bool], ink: &Plane, w: usize, h: usize) -> (Vec<usize>, Vec<f32>) {
    let mut labels = vec![usize::MAX; w * h];
    let mut masses = Vec::new();
    let mut stack = Vec::new();
    for start in 0..w * h {
        if !mask[start] || labels[start] != usize::MAX {
            continue;
        }
        let label = masses.len();
        let mut mass = 0f32;
        labels[start] = label;
        stack.push(start);
        while let Some(p) = stack.pop() {
            mass += ink.values[p];
            let (x, y) = (p % w, p / w);
            for yy in y.saturating_sub(1)..(y + 2).min(h) {
                for xx in x.saturating_sub(1)..(x + 2).min(w) {
                    let q = yy * w + xx;
                    if mask[q] && labels[q] == usize::MAX {
                        labels[q] = label;
                        stack.push(q);
                    }
                }
            }
        }
        masses.push(mass);
    }
    (labels, masses)
}

/// The smallest rectangle holding all non-zero pixels (`keep_digit` guarantees some).
fn crop_to_ink(ink: &Plane) -> Plane {
    let (w, h) = (ink.width, ink.height);
    let (mut x0, mut y0, mut x1, mut y1) = (w, h, 0, 0);
    for y in 0..h {
        for x in 0..w {
            if ink.at(x, y) > 0.0 {
                x0 = x0.min(x);
                y0 = y0.min(y);
                x1 = x1.max(x + 1);
                y1 = y1.max(y + 1);
            }
        }
    }
    if x1 <= x0 || y1 <= y0 {
        return ink.clone();
    }
    let values = (y0..y1)
        .flat_map(|y| (x0..x1).map(move |x| (x, y)))
        .map(|(x, y)| ink.at(x, y))
        .collect();
    Plane {
        width: x1 - x0,
        height: y1 - y0,
        values,
    }
}

/// Stroke width in pixels, estimated as 2 × ink area / ink boundary.
fn stroke_width(digit: &Plane) -> f32 {
    let (w, h) = (digit.width, digit.height);
    let on = |x: isize, y: isize| {
        x >= 0
            && y >= 0
            && (x as usize) < w
            && (y as usize) < h
            && digit.at(x as usize, y as usize) > 0.5
    };
    let (mut area, mut boundary) = (0f32, 0f32);
    for y in 0..h as isize {
        for x in 0..w as isize {
            if on(x, y) {
                area += 1.0;
                if !(on(x - 1, y) && on(x + 1, y) && on(x, y - 1) && on(x, y + 1)) {
                    boundary += 1.0;
                }
            }
        }
    }
    if boundary == 0.0 {
        0.0
    } else {
        2.0 * area / boundary
    }
}

/// Widens strokes (a grey-level dilation) that would end up thinner than
/// MNIST's once the digit is scaled into the 20-pixel box.
fn thicken_thin_strokes(digit: &Plane) -> Plane {
    let scale = BOX as f32 / digit.width.max(digit.height) as f32;
    let width = stroke_width(digit);
    if width * scale >= MIN_STROKE {
        return digit.clone();
    }
    let wanted = TARGET_STROKE / scale;
    let limit = digit.width.max(digit.height) / 10;
    let radius = (((wanted - width) / 2.0).ceil().max(1.0) as usize).min(limit.max(1));
    // Pad so the widened strokes are not cut at the crop's edge.
    let (w, h) = (digit.width + 2 * radius, digit.height + 2 * radius);
    let mut padded = vec![0f32; w * h];
    for y in 0..digit.height {
        for x in 0..digit.width {
            padded[(y + radius) * w + x + radius] = digit.at(x, y);
        }
    }
    let mut rows = vec![0f32; w * h];
    for y in 0..h {
        for x in 0..w {
            let lo = x.saturating_sub(radius);
            let hi = (x + radius + 1).min(w);
            rows[y * w + x] = padded[y * w + lo..y * w + hi]
                .iter()
                .copied()
                .fold(0.0, f32::max);
        }
    }
    let mut values = vec![0f32; w * h];
    for y in 0..h {
        for x in 0..w {
            let lo = y.saturating_sub(radius);
            let hi = (y + radius + 1).min(h);
            values[y * w + x] = (lo..hi).map(|yy| rows[yy * w + x]).fold(0.0, f32::max);
        }
    }
    Plane {
        width: w,
        height: h,
        values,
    }
}

/// Scales the digit to fit [`BOX`]×[`BOX`] keeping its aspect ratio, then
/// stretches it so its brightest pixel is 1.
fn fit_box(digit: &Plane) -> Plane {
    let longest = digit.width.max(digit.height) as f32;
    let w = ((digit.width as f32 * BOX as f32 / longest).round() as usize).clamp(1, BOX);
    let h = ((digit.height as f32 * BOX as f32 / longest).round() as usize).clamp(1, BOX);
    let mut boxed = digit.resized(w, h);
    let max = boxed.values.iter().copied().fold(0f32, f32::max);
    if max > 0.0 {
        for v in &mut boxed.values {
            *v = (*v / max).clamp(0.0, 1.0);
        }
    }
    boxed
}

/// Puts the boxed digit in a [`SIZE`]×[`SIZE`] field so its centre of mass
/// (in pixel indices) lands as close to (14, 14) as whole-pixel shifts allow.
fn centre_by_mass(boxed: &Plane) -> Plane {
    let (mut mass, mut sx, mut sy) = (0f64, 0f64, 0f64);
    for y in 0..boxed.height {
        for x in 0..boxed.width {
            let v = boxed.at(x, y) as f64;
            mass += v;
            sx += v * x as f64;
            sy += v * y as f64;
        }
    }
    let (cx, cy) = if mass > 0.0 {
        (sx / mass, sy / mass)
    } else {
        (0.0, 0.0)
    };
    let centre = (SIZE / 2) as f64;
    let ox = ((centre - cx).round() as isize).clamp(0, (SIZE - boxed.width) as isize) as usize;
    let oy = ((centre - cy).round() as isize).clamp(0, (SIZE - boxed.height) as isize) as usize;
    let mut values = vec![0f32; SIZE * SIZE];
    for y in 0..boxed.height {
        for x in 0..boxed.width {
            values[(y + oy) * SIZE + x + ox] = boxed.at(x, y);
        }
    }
    Plane {
        width: SIZE,
        height: SIZE,
        values,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plane(width: usize, height: usize, f: impl Fn(usize, usize) -> f32) -> Plane {
        let values = (0..height)
            .flat_map(|y| (0..width).map(move |x| (x, y)))
            .map(|(x, y)| f(x, y))
            .collect();
        Plane {
            width,
            height,
            values,
        }
    }

    #[test]
    fn dark_ink_is_inverted_and_light_ink_is_not() {
        let dark_on_white = plane(50, 50, |x, _| if (20..25).contains(&x) { 0.1 } else { 0.9 });
        assert!(bright_ink(&dark_on_white).at(22, 10) > 0.8);
        let light_on_black = plane(50, 50, |x, _| if (20..25).contains(&x) { 0.9 } else { 0.1 });
        assert!(bright_ink(&light_on_black).at(22, 10) > 0.8);
        // A dim photo: grey paper at 0.4, ink at 0.1 — still inverted.
        let dim = plane(50, 50, |x, _| if (20..25).contains(&x) { 0.1 } else { 0.4 });
        assert!(bright_ink(&dim).at(22, 10) > bright_ink(&dim).at(5, 10));
    }

    #[test]
    fn lighting_gradient_is_removed() {
        let lit = plane(120, 120, |x, y| {
            0.05 + 0.3 * x as f32 / 120.0 + if (50..58).contains(&y) { 0.6 } else { 0.0 }
        });
        let flat = remove_background(&lit);
        assert!(
            flat.at(5, 10) < 0.03 && flat.at(115, 10) < 0.03,
            "{} {}",
            flat.at(5, 10),
            flat.at(115, 10)
        );
        assert!(flat.at(60, 54) > 0.5);
    }

    #[test]
    fn specks_are_dropped() {
        let ink = plane(60, 60, |x, y| {
            let bar = (10..50).contains(&y) && (28..34).contains(&x);
            let speck = (x, y) == (3, 3) || (x, y) == (4, 3);
            if bar || speck {
                1.0
            } else {
                0.0
            }
        });
        let kept = keep_digit(&ink, "t").unwrap();
        assert_eq!(kept.at(3, 3), 0.0);
        let cropped = crop_to_ink(&kept);
        assert_eq!((cropped.width, cropped.height), (6, 40));
    }

    #[test]
    fn stroke_width_estimate() {
        let bar = plane(40, 100, |x, y| {
            if (10..18).contains(&x) && (10..90).contains(&y) {
                1.0
            } else {
                0.0
            }
        });
        let w = stroke_width(&bar);
        assert!((w - 8.0).abs() < 1.0, "{w}");
        let thin = plane(200, 200, |x, y| {
            if (100..103).contains(&x) && (10..190).contains(&y) {
                1.0
            } else {
                0.0
            }
        });
        let thick = thicken_thin_strokes(&crop_to_ink(&thin));
        let projected = stroke_width(&thick) * BOX as f32 / thick.width.max(thick.height) as f32;
        assert!(projected >= 2.0, "{projected}");
    }
}
