//! Colour maps: how a number between 0 and 1 becomes a colour.
//!
//! The tables are control points sampled from matplotlib's published colour
//! maps and joined by linear interpolation. [`Colormap::Viridis`] (matplotlib's
//! default, by van der Walt and Smith, CC0) keeps 65 evenly spaced points of the
//! 256-entry definition, which reproduces every entry to within 0.53 of an 8-bit
//! step; `Greys`, `Blues` and `RdBu` are ColorBrewer ramps (Cynthia Brewer,
//! Apache-2.0) given by their 9, 9 and 11 defining colours, exactly as
//! matplotlib builds them.

use plotters::style::RGBColor;

/// A colour map, chosen like matplotlib's `cmap=` argument.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Colormap {
    /// matplotlib's default: dark purple (low) through teal to yellow (high).
    #[default]
    Viridis,
    /// `cmap='gray'`: black (low) to white (high), as MNIST digits are usually shown.
    Gray,
    /// `cmap='Greys'`: white (low) to black (high), ink on paper.
    Greys,
    /// `cmap='Blues'`: near-white (low) to dark blue (high), the usual colours
    /// of a confusion matrix (scikit-learn's and fast.ai's).
    Blues,
    /// `cmap='RdBu_r'`: a diverging map, blue (low) through white to red (high),
    /// for values with a meaningful zero such as filter weights.
    RdBu,
}

impl Colormap {
    /// The colour of `t`, where 0 is the low end and 1 the high end; values
    /// outside [0, 1] are clamped and NaN is drawn as the low end.
    pub fn rgb(self, t: f64) -> [u8; 3] {
        let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
        match self {
            Colormap::Gray => {
                let v = (t * 255.0).round() as u8;
                [v, v, v]
            }
            Colormap::Viridis => interpolate(&VIRIDIS, t),
            Colormap::Greys => interpolate(&GREYS, t),
            Colormap::Blues => interpolate(&BLUES, t),
            Colormap::RdBu => interpolate(&RDBU_R, t),
        }
    }

    /// [`Colormap::rgb`] as a plotters colour.
    pub fn color(self, t: f64) -> RGBColor {
        let [r, g, b] = self.rgb(t);
        RGBColor(r, g, b)
    }

    /// True for maps whose middle stands for zero (used to centre the value range).
    pub fn is_diverging(self) -> bool {
        matches!(self, Colormap::RdBu)
    }

    /// The matplotlib name of the map.
    pub fn name(self) -> &'static str {
        match self {
            Colormap::Viridis => "viridis",
            Colormap::Gray => "gray",
            Colormap::Greys => "Greys",
            Colormap::Blues => "Blues",
            Colormap::RdBu => "RdBu_r",
        }
    }
}

/// Linear interpolation between evenly spaced control points.
fn interpolate(points: &[[u8; 3]], t: f64) -> [u8; 3] {
    let last = points.len() - 1;
    let x = t * last as f64;
    let i = (x.floor() as usize).min(last - 1);
    let f = x - i as f64;
    let (a, b) = (points[i], points[i + 1]);
    let mix = |c: usize| (a[c] as f64 + (b[c] as f64 - a[c] as f64) * f).round() as u8;
    [mix(0), mix(1), mix(2)]
}

const VIRIDIS: [[u8; 3]; 65] = [
    [68, 1, 84],
    [70, 6, 90],
    [71, 13, 96],
    [71, 19, 101],
    [72, 24, 106],
    [72, 29, 111],
    [72, 35, 116],
    [72, 40, 120],
    [71, 45, 123],
    [70, 50, 126],
    [69, 54, 129],
    [68, 59, 132],
    [66, 64, 134],
    [64, 69, 135],
    [63, 73, 137],
    [61, 78, 138],
    [59, 82, 139],
    [57, 86, 140],
    [55, 90, 141],
    [53, 94, 141],
    [51, 99, 141],
    [49, 102, 142],
    [47, 106, 142],
    [46, 110, 142],
    [44, 114, 142],
    [43, 118, 142],
    [41, 122, 142],
    [40, 125, 142],
    [38, 129, 142],
    [37, 133, 142],
    [35, 137, 142],
    [34, 140, 141],
    [33, 144, 140],
    [32, 148, 140],
    [31, 152, 139],
    [30, 155, 138],
    [31, 159, 136],
    [32, 163, 135],
    [33, 166, 133],
    [36, 170, 131],
    [40, 174, 128],
    [44, 177, 126],
    [49, 181, 123],
    [55, 184, 119],
    [62, 188, 116],
    [69, 191, 112],
    [76, 194, 108],
    [84, 198, 103],
    [93, 201, 99],
    [101, 204, 93],
    [110, 206, 88],
    [120, 209, 82],
    [130, 211, 76],
    [140, 214, 70],
    [150, 216, 63],
    [160, 218, 57],
    [171, 220, 50],
    [181, 222, 43],
    [192, 223, 36],
    [203, 225, 31],
    [213, 226, 26],
    [224, 227, 24],
    [234, 229, 26],
    [244, 230, 30],
    [253, 231, 37],
];

const GREYS: [[u8; 3]; 9] = [
    [255, 255, 255],
    [240, 240, 240],
    [217, 217, 217],
    [189, 189, 189],
    [150, 150, 150],
    [115, 115, 115],
    [82, 82, 82],
    [37, 37, 37],
    [0, 0, 0],
];

const BLUES: [[u8; 3]; 9] = [
    [247, 251, 255],
    [222, 235, 247],
    [198, 219, 239],
    [158, 202, 225],
    [107, 174, 214],
    [66, 146, 198],
    [33, 113, 181],
    [8, 81, 156],
    [8, 48, 107],
];

const RDBU_R: [[u8; 3]; 11] = [
    [5, 48, 97],
    [33, 102, 171],
    [67, 147, 195],
    [146, 197, 222],
    [209, 229, 240],
    [247, 247, 246],
    [253, 219, 199],
    [244, 165, 130],
    [214, 96, 77],
    [178, 24, 43],
    [103, 0, 31],
];

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: [u8; 3], b: [u8; 3]) -> bool {
        a.iter()
            .zip(b)
            .all(|(&x, y)| (x as i32 - y as i32).abs() <= 1)
    }

    #[test]
    fn viridis_matches_matplotlib_entries() {
        // matplotlib's viridis(i) for i in 0, 32, 64, 128, 192, 255, rounded to 8 bits.
        let expected = [
            (0, [68, 1, 84]),
            (32, [71, 45, 123]),
            (64, [59, 82, 139]),
            (128, [33, 145, 140]),
            (192, [94, 201, 98]),
            (255, [253, 231, 37]),
        ];
        for (i, rgb) in expected {
            let got = Colormap::Viridis.rgb(i as f64 / 255.0);
            assert!(close(got, rgb), "viridis({i}) = {got:?}, expected {rgb:?}");
        }
    }

    #[test]
    fn gray_and_greys_run_in_opposite_directions() {
        assert_eq!(Colormap::Gray.rgb(0.0), [0, 0, 0]);
        assert_eq!(Colormap::Gray.rgb(1.0), [255, 255, 255]);
        assert_eq!(Colormap::Greys.rgb(0.0), [255, 255, 255]);
        assert_eq!(Colormap::Greys.rgb(1.0), [0, 0, 0]);
        assert_eq!(Colormap::Greys.rgb(0.5), [150, 150, 150]);
        assert_eq!(Colormap::Blues.rgb(0.0), [247, 251, 255]);
        assert_eq!(Colormap::Blues.rgb(1.0), [8, 48, 107]);
    }

    #[test]
    fn out_of_range_and_nan_are_clamped() {
        assert_eq!(Colormap::Viridis.rgb(-3.0), Colormap::Viridis.rgb(0.0));
        assert_eq!(Colormap::Viridis.rgb(7.0), Colormap::Viridis.rgb(1.0));
        assert_eq!(Colormap::Viridis.rgb(f64::NAN), Colormap::Viridis.rgb(0.0));
    }

    #[test]
    fn diverging_map_is_white_in_the_middle_and_monotone_in_red() {
        let mid = Colormap::RdBu.rgb(0.5);
        assert!(mid.iter().all(|&c| c > 240), "{mid:?}");
        let low = Colormap::RdBu.rgb(0.0);
        let high = Colormap::RdBu.rgb(1.0);
        assert!(low[2] > low[0] && high[0] > high[2]);
    }
}
