//! (interim) rich output helpers; replaced by the full display module.

/// Prints evcxr's rich-output blocks, one per (mime type, content).
pub fn emit(parts: &[(&str, String)]) {
    for (mime, content) in parts {
        println!("EVCXR_BEGIN_CONTENT {mime}\n{content}\nEVCXR_END_CONTENT");
    }
}

pub fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

pub struct HtmlTable {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
    caption: Option<String>,
}

impl HtmlTable {
    pub fn new<I: IntoIterator<Item = S>, S: Into<String>>(headers: I) -> Self {
        HtmlTable { headers: headers.into_iter().map(Into::into).collect(), rows: vec![], caption: None }
    }
    pub fn row<I: IntoIterator<Item = S>, S: Into<String>>(mut self, cells: I) -> Self {
        self.rows.push(cells.into_iter().map(Into::into).collect());
        self
    }
    pub fn caption(mut self, c: impl Into<String>) -> Self {
        self.caption = Some(c.into());
        self
    }
    pub fn to_html(&self) -> String {
        let mut s = String::from("<table>");
        if let Some(c) = &self.caption {
            s += &format!("<caption>{}</caption>", escape_html(c));
        }
        s += "<tr>";
        for h in &self.headers {
            s += &format!("<th>{}</th>", escape_html(h));
        }
        s += "</tr>";
        for r in &self.rows {
            s += "<tr>";
            for c in r {
                s += &format!("<td>{}</td>", escape_html(c));
            }
            s += "</tr>";
        }
        s + "</table>"
    }
    pub fn to_text(&self) -> String {
        let n = self.headers.len();
        let widths: Vec<usize> = (0..n)
            .map(|i| self.rows.iter().map(|r| r[i].chars().count()).chain([self.headers[i].chars().count()]).max().unwrap_or(0))
            .collect();
        let line = |cells: &[String]| {
            cells.iter().zip(&widths).map(|(c, w)| format!(" {c:<w$} ")).collect::<Vec<_>>().join("|")
        };
        let mut s = self.caption.clone().map(|c| c + "\n").unwrap_or_default();
        s += &line(&self.headers);
        for r in &self.rows {
            s += "\n";
            s += &line(r);
        }
        s
    }
}
