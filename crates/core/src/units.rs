//! Units people write and read: sizes (`5MiB`, `3.4 MB`), durations (`90s`, `1h30m`,
//! `500ms`), the current time as stored, and positions in a file's text. Shared by config,
//! policy, cache, the catalog and the shells.

use std::time::Duration;

use time::OffsetDateTime;

use crate::error::{Error, Result};

/// Parse a duration like `90s`, `30m`, `1h`, `7d` or `1h30m`.
pub fn parse_duration(raw: &str) -> Result<Duration> {
    match parse_duration_or_zero(raw)? {
        d if d.is_zero() => Err(Error::Usage(format!(
            "`{raw}` is not a duration; use a number with a unit: `90s`, `30m`, `1h`, `7d`"
        ))),
        d => Ok(d),
    }
}

/// A point in time as people write it: a date (`2026-11-01`, midnight UTC), an RFC 3339
/// time (`2026-11-01T12:00:00Z`), or a duration back from `now` (`30d`: 30 days ago).
pub fn parse_instant(raw: &str, now: OffsetDateTime) -> Result<OffsetDateTime> {
    let s = raw.trim();
    if let Ok(t) = OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339) {
        return Ok(t);
    }
    let date = || -> Option<time::Date> {
        let mut parts = s.splitn(3, '-').map(str::parse::<u16>);
        let (y, m, d) = (
            parts.next()?.ok()?,
            parts.next()?.ok()?,
            parts.next()?.ok()?,
        );
        let month = time::Month::try_from(u8::try_from(m).ok()?).ok()?;
        time::Date::from_calendar_date(i32::from(y), month, u8::try_from(d).ok()?).ok()
    };
    if let Some(d) = date() {
        return Ok(d.midnight().assume_utc());
    }
    match parse_duration(s) {
        Ok(d) => Ok(now - d),
        Err(_) => Err(Error::Usage(format!(
            "`{raw}` is not a time; use a date (`2026-11-01`), an RFC 3339 time \
             (`2026-11-01T12:00:00Z`) or a duration back from now (`30d`)"
        ))),
    }
}

/// [`parse_duration`], where zero (`0s`) is allowed too: for settings where "none" makes
/// sense (`gc --older-than 0s`, `watch --wait-down 0s`).
pub fn parse_duration_or_zero(raw: &str) -> Result<Duration> {
    let bad = || {
        Error::Usage(format!(
            "`{raw}` is not a duration; use a number with a unit: `90s`, `30m`, `1h`, `7d`"
        ))
    };
    let s = raw.trim();
    if s.is_empty() {
        return Err(bad());
    }
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 7 * 86_400,
            _ => return Err(bad()),
        };
        let n: u64 = digits.parse().map_err(|_| bad())?;
        digits.clear();
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
    }
    if !digits.is_empty() {
        return Err(bad());
    }
    Ok(Duration::from_secs(total))
}

/// `500ms`, or anything [`crate::parse_duration`] reads (`2s`, `1m`).
pub fn parse_short_duration(raw: &str) -> Result<Duration> {
    let s = raw.trim();
    if let Some(ms) = s.strip_suffix("ms") {
        return ms
            .trim()
            .parse::<u64>()
            .map(Duration::from_millis)
            .map_err(|_| Error::Usage(format!("`{raw}` is not a duration")));
    }
    parse_duration(s)
}

/// `1MB`, `100KB`, `5MiB`, `1.5 GB`, `2048` (bytes): decimal K/M/G/T, binary Ki/Mi/Gi/Ti.
pub fn parse_size(text: &str) -> std::result::Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = (&t[..split], t[split..].trim());
    let mult: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" | "k" => 1_000,
        "mb" | "m" => 1_000_000,
        "gb" | "g" => 1_000_000_000,
        "tb" | "t" => 1_000_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        _ => {
            return Err(format!(
                "unknown size unit `{unit}`; use B, KB, MB, GB (decimal) or KiB, MiB, GiB (binary)"
            ))
        }
    };
    let bad = || format!("`{t}` is not a size; write it like `100KB`, `1MB` or `5MiB`");
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    if int.is_empty() && frac.is_empty() || frac.contains('.') {
        return Err(bad());
    }
    let too_big = || format!("`{t}` is too large");
    let int: u64 = if int.is_empty() {
        0
    } else {
        int.parse().map_err(|_| too_big())?
    };
    let bytes = int.checked_mul(mult).ok_or_else(too_big)?;
    // The fraction is exact in integers: 1.5MB is 1,500,000 bytes and 0.5KiB 512, not a
    // float's guess; digits past the ninth cannot matter at these units.
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let digits = &frac[..frac.len().min(9)];
    let value: u128 = if digits.is_empty() {
        0
    } else {
        digits.parse().map_err(|_| bad())?
    };
    let part = value * u128::from(mult) / 10u128.pow(digits.len() as u32);
    let bytes = bytes
        .checked_add(u64::try_from(part).map_err(|_| too_big())?)
        .ok_or_else(too_big)?;
    Ok(bytes)
}

/// A size for people, in decimal units as the storage strategy writes them: `3.4 MB`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut unit = 0;
    let mut scale = 1u64;
    while unit + 1 < UNITS.len() && bytes >= scale * 1000 {
        scale *= 1000;
        unit += 1;
    }
    if unit == 0 {
        return format!("{bytes} B");
    }
    let tenths = (u128::from(bytes) * 10 + u128::from(scale) / 2) / u128::from(scale);
    if tenths % 10 == 0 {
        format!("{} {}", tenths / 10, UNITS[unit])
    } else {
        format!("{}.{} {}", tenths / 10, tenths % 10, UNITS[unit])
    }
}

/// The 1-based line and column of a byte offset in `text` (for TOML error spans).
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// The current time, as stored.
pub fn now_ns() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp_nanos() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30m").unwrap(), Duration::from_secs(1800));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_duration("7d").unwrap(), Duration::from_secs(604_800));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        for bad in ["", "10", "h", "1x", "0s", "-1h", "99999999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn instants() {
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let day = parse_instant("2026-11-01", now).unwrap();
        assert_eq!(day.unix_timestamp(), 1_793_491_200);
        let t = parse_instant("2026-11-01T12:00:00Z", now).unwrap();
        assert_eq!(t - day, time::Duration::hours(12));
        assert_eq!(
            parse_instant("30d", now).unwrap(),
            now - Duration::from_secs(30 * 86_400)
        );
        for bad in ["", "2026-13-01", "2026-02-30", "yesterday", "1x"] {
            let e = parse_instant(bad, now).unwrap_err().to_string();
            assert!(e.contains("is not a time"), "{bad}: {e}");
        }
    }
}
