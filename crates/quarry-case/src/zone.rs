//! The time zone exports show dates in (`[exports] time_zone` in case.toml).
//!
//! quarry stores every date in UTC, with an email's original offset beside it. What the
//! parties exchange is another matter: an ESI protocol names the time zone that dates in
//! load files and privilege logs are given in ("all dates in Eastern time", or UTC), and
//! processing tools have a time-zone setting per matter for it. An evening email from
//! Houston is dated the next day in UTC, so a privilege log in the wrong zone disagrees with
//! the other side's records by a day.
//!
//! The zone is an IANA name (`America/Chicago`), read from the time zone database bundled in
//! the build (jiff's), not the machine's: the same case and settings give the same bytes on
//! every machine. The default, `UTC`, writes dates exactly as quarry always did.

use jiff::tz::{TimeZone, TimeZoneDatabase};

/// A case's export time zone.
#[derive(Clone, Debug)]
pub struct ExportZone {
    tz: TimeZone,
    name: String,
}

impl ExportZone {
    /// The zone of an IANA name, in any case (`UTC`, `America/New_York`).
    ///
    /// # Errors
    /// A name the database does not hold, with what to write instead.
    pub fn named(name: &str) -> Result<ExportZone, String> {
        let tz = TimeZoneDatabase::bundled().get(name).map_err(|_| {
            format!(
                "exports.time_zone {name:?} is not a time zone; give an IANA name such as \
                 \"UTC\", \"America/New_York\" or \"Europe/London\""
            )
        })?;
        let name = tz.iana_name().unwrap_or(name).to_owned();
        Ok(ExportZone { tz, name })
    }

    /// The zone's IANA name as the database spells it.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A stored date (`2001-05-14T23:39:00Z`) in this zone, with its offset:
    /// `2001-05-14T16:39:00-07:00`. In UTC, and for a date stored without a zone (a ZIP
    /// entry's DOS time, a PDF date written without an offset), the date as stored.
    #[must_use]
    pub fn iso(&self, stored: &str) -> String {
        match self.local(stored) {
            Some(zoned) => zoned.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string(),
            None => stored.to_owned(),
        }
    }

    /// A stored date as `MM/DD/YYYY`, the day it was in this zone (the DAT file's form).
    #[must_use]
    pub fn us_date(&self, stored: &str) -> String {
        if let Some(zoned) = self.local(stored) {
            return zoned.strftime("%m/%d/%Y").to_string();
        }
        match (stored.get(0..4), stored.get(5..7), stored.get(8..10)) {
            (Some(y), Some(m), Some(d)) => format!("{m}/{d}/{y}"),
            _ => stored.to_owned(),
        }
    }

    /// A stored date's time of day in this zone, `HH:MM:SS` (24 hours).
    #[must_use]
    pub fn time(&self, stored: &str) -> String {
        if let Some(zoned) = self.local(stored) {
            return zoned.strftime("%H:%M:%S").to_string();
        }
        stored.get(11..19).unwrap_or_default().to_owned()
    }

    /// A UTC date in this zone; `None` in UTC itself, or for a date stored without a zone.
    fn local(&self, stored: &str) -> Option<jiff::ZonedDateTime> {
        if self.tz == TimeZone::UTC || !stored.ends_with('Z') {
            return None;
        }
        let at: jiff::Timestamp = stored.parse().ok()?;
        Some(at.to_zoned_datetime(self.tz.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_a_zone() {
        let la = ExportZone::named("america/los_angeles").unwrap();
        assert_eq!(la.name(), "America/Los_Angeles");
        // Daylight saving time in May, standard time in January.
        assert_eq!(la.iso("2001-05-14T23:39:00Z"), "2001-05-14T16:39:00-07:00");
        assert_eq!(la.iso("2001-01-15T05:00:00Z"), "2001-01-14T21:00:00-08:00");
        assert_eq!(la.us_date("2001-01-15T05:00:00Z"), "01/14/2001");
        assert_eq!(la.time("2001-01-15T05:00:00Z"), "21:00:00");
        // A date stored without a zone stays as it is.
        assert_eq!(la.iso("2013-01-08T17:00:56"), "2013-01-08T17:00:56");
        assert_eq!(la.us_date("2013-01-08T17:00:56"), "01/08/2013");
        let india = ExportZone::named("Asia/Kolkata").unwrap();
        assert_eq!(india.iso("2001-05-14T23:39:00Z"), "2001-05-15T05:09:00+05:30");
        assert_eq!(india.us_date("2001-05-14T23:39:00Z"), "05/15/2001");
    }

    #[test]
    fn utc_writes_dates_as_stored() {
        let utc = ExportZone::named("UTC").unwrap();
        assert_eq!(utc.iso("2001-05-14T23:39:00Z"), "2001-05-14T23:39:00Z");
        assert_eq!(utc.us_date("2001-05-14T23:39:00Z"), "05/14/2001");
        assert_eq!(utc.time("2001-05-14T23:39:00Z"), "23:39:00");
        assert_eq!(utc.time("2013-01-08T17:00:56"), "17:00:56");
        assert_eq!(utc.time("2013-01-08"), "");
    }

    #[test]
    fn unknown_names_are_refused() {
        for name in ["Eastern", "EST5EDTX", "", "America/Atlantis"] {
            let error = ExportZone::named(name).unwrap_err();
            assert!(error.contains("America/New_York"), "{error}");
        }
    }
}
