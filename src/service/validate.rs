//! Input checks shared by the services; each failure names the field.

use crate::error::{AppError, AppResult};

/// A required text: trimmed, not empty, at most `max` characters.
pub fn text(field: &str, value: &str, max: usize) -> AppResult<String> {
    let value = value.trim();
    if value.is_empty() {
        return Err(AppError::bad(format!("`{field}` must not be empty")));
    }
    limit(field, value, max)?;
    Ok(value.to_owned())
}

/// An optional text: trimmed, empty becomes `None`, at most `max` characters.
pub fn opt_text(field: &str, value: Option<String>, max: usize) -> AppResult<Option<String>> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => {
            limit(field, v, max)?;
            Ok(Some(v.to_owned()))
        }
    }
}

/// A free text that may be empty (report bodies, notes), at most `max` characters.
pub fn body(field: &str, value: &str, max: usize) -> AppResult<String> {
    limit(field, value, max)?;
    Ok(value.to_owned())
}

fn limit(field: &str, value: &str, max: usize) -> AppResult<()> {
    if value.contains('\0') {
        return Err(AppError::bad(format!("`{field}` must not contain NUL characters")));
    }
    if value.chars().count() > max {
        return Err(AppError::bad(format!("`{field}` is longer than {max} characters")));
    }
    Ok(())
}

/// An optional web address: `http://` or `https://` with a host, at most
/// `max` characters; a bare host (`www.example.co.jp`) gets `https://`.
/// Anything else (`javascript:`, `data:`, `file:`) is refused, since
/// frontends render it as a link.
pub fn opt_web_url(field: &str, value: Option<String>, max: usize) -> AppResult<Option<String>> {
    let Some(value) = opt_text(field, value, max)? else {
        return Ok(None);
    };
    let lower = value.to_ascii_lowercase();
    let full = if lower.starts_with("http://") || lower.starts_with("https://") {
        value
    } else if !value.contains(':') {
        format!("https://{value}")
    } else {
        return Err(AppError::bad(format!(
            "`{field}` must be a web address starting with https:// or http://"
        )));
    };
    let parsed =
        url::Url::parse(&full).map_err(|e| AppError::bad(format!("`{field}` is not a valid web address ({e})")))?;
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(AppError::bad(format!("`{field}` has no host")));
    }
    limit(field, &full, max)?;
    Ok(Some(full))
}

/// A money amount or count that must not be negative.
pub fn non_negative(field: &str, value: i64) -> AppResult<i64> {
    if value < 0 {
        return Err(AppError::bad(format!("`{field}` must not be negative")));
    }
    Ok(value)
}

/// A plugin-defined key: 1–64 characters of `a-z`, `0-9`, `_`.
pub fn key(field: &str, value: &str) -> AppResult<String> {
    let ok = !value.is_empty()
        && value.len() <= 64
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !ok {
        return Err(AppError::bad(format!(
            "`{field}` must be 1 to 64 characters of lower-case letters, digits and `_` (got {value:?})"
        )));
    }
    Ok(value.to_owned())
}

/// Maximum length of long free texts (notes, report bodies): 100k characters.
pub const LONG_TEXT: usize = 100_000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts() {
        assert_eq!(text("name", "  ACME ", 10).unwrap(), "ACME");
        assert!(text("name", "   ", 10).is_err());
        assert!(text("name", "abcdefghijk", 10).is_err());
        assert!(body("notes", "a\0b", 10).is_err());
        let web = |v: &str| opt_web_url("website", Some(v.into()), 100);
        assert_eq!(
            web("https://acme.co.jp/").unwrap().as_deref(),
            Some("https://acme.co.jp/")
        );
        assert_eq!(
            web("www.acme.co.jp").unwrap().as_deref(),
            Some("https://www.acme.co.jp")
        );
        for bad in [
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            "data:text/html,x",
            "file:///etc/passwd",
            "https://",
        ] {
            assert!(web(bad).is_err(), "{bad}");
        }
        assert_eq!(opt_text("x", Some(" ".into()), 3).unwrap(), None);
        assert!(key("stage", "proposal_2").is_ok());
        assert!(key("stage", "Proposal").is_err());
        assert!(non_negative("amount", -1).is_err());
    }
}
