//! Flat JSON output (`RESULT {...}` lines) and small statistics helpers.

use std::fmt::Write as _;

/// Builder for a one-line JSON object; keys keep insertion order.
#[derive(Clone, Debug, Default)]
pub struct Json {
    fields: Vec<(String, String)>,
}

impl Json {
    pub fn new() -> Self {
        Self::default()
    }

    fn push(mut self, key: &str, rendered: String) -> Self {
        self.fields.push((key.to_string(), rendered));
        self
    }

    pub fn str(self, key: &str, v: &str) -> Self {
        self.push(key, quote(v))
    }

    pub fn opt_str(self, key: &str, v: Option<&str>) -> Self {
        self.push(key, v.map_or_else(|| "null".into(), quote))
    }

    pub fn u64(self, key: &str, v: u64) -> Self {
        self.push(key, v.to_string())
    }

    pub fn opt_u64(self, key: &str, v: Option<u64>) -> Self {
        self.push(key, v.map_or_else(|| "null".into(), |v| v.to_string()))
    }

    pub fn i64(self, key: &str, v: i64) -> Self {
        self.push(key, v.to_string())
    }

    pub fn f64(self, key: &str, v: f64) -> Self {
        self.push(key, number(v))
    }

    pub fn opt_f64(self, key: &str, v: Option<f64>) -> Self {
        self.push(key, v.map_or_else(|| "null".into(), number))
    }

    pub fn bool(self, key: &str, v: bool) -> Self {
        self.push(key, v.to_string())
    }

    /// Array of already-built objects.
    pub fn objects(self, key: &str, items: &[Json]) -> Self {
        let inner: Vec<String> = items.iter().map(Json::render).collect();
        self.push(key, format!("[{}]", inner.join(",")))
    }

    pub fn render(&self) -> String {
        let mut s = String::from("{");
        for (i, (k, v)) in self.fields.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            let _ = write!(s, "{}:{}", quote(k), v);
        }
        s.push('}');
        s
    }

    /// The line printed on stdout: `RESULT {...}`.
    pub fn result_line(&self) -> String {
        format!("RESULT {}", self.render())
    }
}

/// JSON string literal with escaping.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// JSON number; non-finite values become `null`.
pub fn number(v: f64) -> String {
    if v.is_finite() {
        // Display never uses exponent notation and is always valid JSON.
        format!("{v}")
    } else {
        "null".to_string()
    }
}

/// Throughput in GB/s (1e9 bytes); NaN when no time elapsed.
pub fn gbps(bytes: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        bytes as f64 / seconds / 1e9
    } else {
        f64::NAN
    }
}

/// Events per second; NaN when no time elapsed.
pub fn rate(count: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        count as f64 / seconds
    } else {
        f64::NAN
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub n: usize,
}

/// Median/min/max of the finite samples (`None` if there are none).
pub fn spread(samples: &[f64]) -> Option<Spread> {
    let mut v: Vec<f64> = samples.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    Some(Spread {
        median,
        min: v[0],
        max: v[n - 1],
        n,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_flat_object_in_order() {
        let j = Json::new()
            .str("api", "move_pages")
            .u64("size_mib", 64)
            .i64("delta", -3)
            .f64("gbps", 1.5)
            .f64("bad", f64::NAN)
            .bool("ok", true)
            .opt_u64("thp", None)
            .opt_str("error", None)
            .opt_f64("busy", Some(0.5))
            .opt_f64("none", None);
        assert_eq!(
            j.render(),
            r#"{"api":"move_pages","size_mib":64,"delta":-3,"gbps":1.5,"bad":null,"ok":true,"thp":null,"error":null,"busy":0.5,"none":null}"#
        );
        assert!(j.result_line().starts_with("RESULT {\"api\""));
    }

    #[test]
    fn escapes_strings() {
        assert_eq!(quote("a\"b\\c\nd\u{1}"), r#""a\"b\\c\nd\u0001""#);
        assert_eq!(Json::new().str("k\"", "é").render(), r#"{"k\"":"é"}"#);
    }

    #[test]
    fn numbers_never_use_exponents() {
        assert_eq!(number(1e-10), "0.0000000001");
        assert_eq!(number(3.0), "3");
        assert_eq!(number(f64::INFINITY), "null");
    }

    #[test]
    fn nested_objects() {
        let a = Json::new().u64("node", 0);
        let b = Json::new().u64("node", 1);
        assert_eq!(
            Json::new().objects("nodes", &[a, b]).render(),
            r#"{"nodes":[{"node":0},{"node":1}]}"#
        );
        assert_eq!(Json::new().objects("x", &[]).render(), r#"{"x":[]}"#);
        assert_eq!(Json::new().render(), "{}");
    }

    #[test]
    fn throughput() {
        assert_eq!(gbps(2_000_000_000, 2.0), 1.0);
        assert!(gbps(1, 0.0).is_nan());
        assert_eq!(rate(10, 2.0), 5.0);
    }

    #[test]
    fn spread_odd_even_and_nan() {
        let s = spread(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!((s.median, s.min, s.max, s.n), (2.0, 1.0, 3.0, 3));
        let s = spread(&[4.0, 1.0, 2.0, 10.0]).unwrap();
        assert_eq!((s.median, s.min, s.max), (3.0, 1.0, 10.0));
        let s = spread(&[f64::NAN, 5.0]).unwrap();
        assert_eq!((s.median, s.n), (5.0, 1));
        assert_eq!(spread(&[]), None);
        assert_eq!(spread(&[f64::NAN]), None);
    }
}
