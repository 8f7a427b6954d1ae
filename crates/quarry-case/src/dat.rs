//! The fields of a production's DAT load file (`exports.dat_fields` in case.toml).
//!
//! ESI protocols list the fields a production carries, and name them their own way
//! (DATESENT, Date_Sent, EmailSentDate; FORMATS.md §1.1): processing tools let each matter
//! choose. A case lists the fields it produces, in order, from the catalog below, each under
//! its own column name if the protocol wants another (`"DATESENT=Date Sent"`). The default is
//! the 18 columns quarry always wrote, so that the volumes of one matter stay alike.

/// One field the DAT can carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DatField {
    BegBates,
    EndBates,
    BegAttach,
    EndAttach,
    ParentId,
    AttachIds,
    ControlNumber,
    Custodian,
    AllCustodians,
    AllPaths,
    DupCount,
    From,
    To,
    Cc,
    Bcc,
    Subject,
    DateSent,
    TimeSent,
    DateReceived,
    TimeReceived,
    DateCreated,
    DateModified,
    TimeZone,
    FileName,
    FileExt,
    FileSize,
    Md5Hash,
    Sha1Hash,
    MessageId,
    NativePath,
    TextPath,
}

/// Every field by its name (docs/EXPORTS.md says what each holds).
pub(crate) const CATALOG: &[(&str, DatField)] = &[
    ("BEGBATES", DatField::BegBates),
    ("ENDBATES", DatField::EndBates),
    ("BEGATTACH", DatField::BegAttach),
    ("ENDATTACH", DatField::EndAttach),
    ("PARENTID", DatField::ParentId),
    ("ATTACHIDS", DatField::AttachIds),
    ("CONTROL_NUMBER", DatField::ControlNumber),
    ("CUSTODIAN", DatField::Custodian),
    ("ALL_CUSTODIANS", DatField::AllCustodians),
    ("ALL_PATHS", DatField::AllPaths),
    ("DUP_COUNT", DatField::DupCount),
    ("FROM", DatField::From),
    ("TO", DatField::To),
    ("CC", DatField::Cc),
    ("BCC", DatField::Bcc),
    ("SUBJECT", DatField::Subject),
    ("DATESENT", DatField::DateSent),
    ("TIMESENT", DatField::TimeSent),
    ("DATERCVD", DatField::DateReceived),
    ("TIMERCVD", DatField::TimeReceived),
    ("DATECREATED", DatField::DateCreated),
    ("DATEMODIFIED", DatField::DateModified),
    ("TIMEZONE", DatField::TimeZone),
    ("FILENAME", DatField::FileName),
    ("FILEEXT", DatField::FileExt),
    ("FILESIZE", DatField::FileSize),
    ("MD5HASH", DatField::Md5Hash),
    ("SHA1HASH", DatField::Sha1Hash),
    ("MESSAGEID", DatField::MessageId),
    ("NATIVEPATH", DatField::NativePath),
    ("TEXTPATH", DatField::TextPath),
];

/// The fields a DAT carried before they could be chosen, and the default.
pub const DEFAULT_DAT_FIELDS: &[&str] = &[
    "BEGBATES",
    "ENDBATES",
    "BEGATTACH",
    "ENDATTACH",
    "CUSTODIAN",
    "ALL_CUSTODIANS",
    "FROM",
    "TO",
    "CC",
    "BCC",
    "SUBJECT",
    "DATESENT",
    "FILENAME",
    "FILEEXT",
    "MD5HASH",
    "SHA1HASH",
    "NATIVEPATH",
    "TEXTPATH",
];

impl DatField {
    /// Whether the field needs the document's copies looked up.
    pub(crate) fn needs_copies(self) -> bool {
        matches!(self, DatField::AllPaths | DatField::DupCount)
    }

    /// Whether a slip sheet (a withheld member of a produced family) fills this field: what
    /// places it in the production and its family, nothing of the withheld document.
    pub(crate) fn on_slip_sheet(self) -> bool {
        matches!(
            self,
            DatField::BegBates
                | DatField::EndBates
                | DatField::BegAttach
                | DatField::EndAttach
                | DatField::ParentId
                | DatField::AttachIds
                | DatField::Custodian
                | DatField::AllCustodians
                | DatField::TimeZone
                | DatField::FileExt
                | DatField::NativePath
                | DatField::TextPath
        )
    }
}

/// The configured columns: each field with its column name.
///
/// # Errors
/// A field not in the catalog (the message lists them), a column name that a DAT cannot hold
/// (empty, a control character, þ or ®), or a column named twice.
pub(crate) fn columns(entries: &[String]) -> Result<Vec<(DatField, String)>, String> {
    if entries.is_empty() {
        return Err("exports.dat_fields is empty; list the fields the DAT carries".into());
    }
    let mut out: Vec<(DatField, String)> = Vec::with_capacity(entries.len());
    for entry in entries {
        let (name, header) = match entry.split_once('=') {
            Some((name, header)) => (name.trim(), header.trim()),
            None => (entry.trim(), entry.trim()),
        };
        let Some(&(_, field)) = CATALOG.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)) else {
            let known: Vec<&str> = CATALOG.iter().map(|(n, _)| *n).collect();
            return Err(format!(
                "exports.dat_fields: {name:?} is not a DAT field; the fields are {}",
                known.join(", ")
            ));
        };
        if header.is_empty() || header.chars().any(|c| c.is_control() || c == 'þ' || c == '®') {
            return Err(format!(
                "exports.dat_fields: column name {header:?} must be non-empty, without control characters, þ or ®"
            ));
        }
        if out.iter().any(|(_, h)| h.eq_ignore_ascii_case(header)) {
            return Err(format!("exports.dat_fields: column {header:?} is named twice"));
        }
        out.push((field, header.to_owned()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_and_their_column_names() {
        let entries: Vec<String> =
            ["BEGBATES", "datesent = Date Sent", "TIMESENT"].map(String::from).to_vec();
        let columns = columns(&entries).unwrap();
        assert_eq!(
            columns,
            [
                (DatField::BegBates, "BEGBATES".to_owned()),
                (DatField::DateSent, "Date Sent".to_owned()),
                (DatField::TimeSent, "TIMESENT".to_owned()),
            ]
        );
        let defaults: Vec<String> = DEFAULT_DAT_FIELDS.iter().map(|f| (*f).to_owned()).collect();
        assert_eq!(columns_of(&defaults), DEFAULT_DAT_FIELDS);
    }

    fn columns_of(entries: &[String]) -> Vec<String> {
        columns(entries).unwrap().into_iter().map(|(_, h)| h).collect()
    }

    #[test]
    fn refusals() {
        for (entries, says) in [
            (
                vec!["BEGBATES", "DATE_SENT"],
                "\"DATE_SENT\" is not a DAT field; the fields are BEGBATES",
            ),
            (vec!["BEGBATES=Doc", "ENDBATES=doc"], "column \"doc\" is named twice"),
            (vec!["BEGBATES", "BEGBATES"], "named twice"),
            (vec!["SUBJECT=Sub\u{14}ject"], "without control characters"),
            (vec!["SUBJECT="], "must be non-empty"),
            (vec![], "is empty"),
        ] {
            let entries: Vec<String> = entries.into_iter().map(String::from).collect();
            let error = columns(&entries).unwrap_err();
            assert!(error.contains(says), "{error}");
        }
    }
}
