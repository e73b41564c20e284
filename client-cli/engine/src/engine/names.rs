//! Telling people apart by name (issue 13): when two names could be taken for each
//! other, and how the client then shows them.
//!
//! A display name is whatever a member chose; nothing stops an infiltrator from joining
//! as "Olena" beside the real Olena, or as "Olеna" with a Cyrillic `е`. Two names
//! *collide* when they are equal after full Unicode case folding ([`fold`]: "ОЛЕНА" and
//! "олена", "STRASSE" and "straße") or have the same confusables skeleton of Unicode
//! Technical Standard #39 ([`skeleton_key`]: Latin "Olena" and "Olеna", "Ivan" and
//! "lvan", "Mykola" and "Rnykola"). A member whose name collides with another's is
//! shown with a fingerprint fragment, `Olena [3f2a 91c0]`, in the same style as the
//! notices ("[3f2a 91c0] is Olena"), everywhere the client names senders; a name that
//! copies another member's name *and* fragment collides too.
//!
//! Lookups that users type (a member, a file, a join request, a group) compare folded
//! names only ([`same`]): "семья" finds "Семья", and Latin "Olena" does not find the
//! Cyrillic look-alike.

use super::records::{Contact, GroupRecord, NS_CONTACTS};
use super::{Client, Result, member_ids};
use crate::identity::{IdentityKey, fingerprint};
use caseless::Caseless;
use kith_i18n::t;
use kith_protocol::GroupId;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use unicode_normalization::UnicodeNormalization;

/// A name for comparing: runs of white space made one space and trimmed, then full
/// Unicode case folding with compatibility normalization (the standard's
/// compatibility caseless match: NFKD(fold(NFKD(fold(NFD(name)))))). Fullwidth and
/// other compatibility forms fold to their plain letters.
pub fn fold(name: &str) -> String {
    let spaced = name.split_whitespace().collect::<Vec<_>>().join(" ");
    spaced
        .chars()
        .nfd()
        .default_case_fold()
        .nfkd()
        .default_case_fold()
        .nfkd()
        .collect()
}

/// The confusables key of a name: the UTS #39 skeleton (invisible characters dropped,
/// every character replaced by its prototype), case folded, and skeletonized again so
/// that a capital's prototype and a small letter's meet ("OLЕNA" and "olena").
pub fn skeleton_key(name: &str) -> String {
    let spaced = name.split_whitespace().collect::<Vec<_>>().join(" ");
    let first: String = unicode_security::skeleton(&spaced).collect();
    unicode_security::skeleton(&fold(&first)).collect()
}

/// Whether two names are the same for a lookup (full case folding).
pub fn same(a: &str, b: &str) -> bool {
    fold(a) == fold(b)
}

/// Whether two names could be taken for each other on screen.
pub fn collides(a: &str, b: &str) -> bool {
    same(a, b) || skeleton_key(a) == skeleton_key(b)
}

/// The fingerprint fragment that tells an identity apart: `[3f2a 91c0]`.
pub fn tag(who: &IdentityKey) -> String {
    format!("[{}]", &fingerprint(who)[..9])
}

/// A name with its identity's fragment: `Olena [3f2a 91c0]`.
pub fn tagged(name: &str, who: &IdentityKey) -> String {
    format!("{name} {}", tag(who))
}

/// Whether `name` (someone's) could be taken for `other`, the name of identity `id`:
/// either as it is shown plainly or as it is shown tagged.
pub fn clashes(name: &str, other: &str, id: &IdentityKey) -> bool {
    collides(name, other) || collides(name, &tagged(other, id))
}

/// Which of these identities need a disambiguator: those whose name collides with
/// another identity's name, or with another identity's tagged name (a name that copies
/// "Olena [3f2a 91c0]" whole). Linear in the number of names.
pub fn colliding<'a>(
    names: impl IntoIterator<Item = (IdentityKey, &'a str)>,
) -> BTreeSet<IdentityKey> {
    // Each key a name (plain or tagged) folds to, with the identities that reach it.
    let mut by_key: HashMap<(bool, String), BTreeSet<IdentityKey>> = HashMap::new();
    for (id, name) in names {
        for shown in [name.to_owned(), tagged(name, &id)] {
            by_key.entry((false, fold(&shown))).or_default().insert(id);
            by_key
                .entry((true, skeleton_key(&shown)))
                .or_default()
                .insert(id);
        }
    }
    by_key
        .into_values()
        .filter(|ids| ids.len() > 1)
        .flatten()
        .collect()
}

/// The people of one group as this client shows them: every current member, and
/// everyone the group record has a name for (former members whose lines are still in
/// the history).
#[derive(Clone, Debug, Default)]
pub struct Roster {
    names: BTreeMap<IdentityKey, String>,
    colliding: BTreeSet<IdentityKey>,
    verified: BTreeSet<IdentityKey>,
    me: IdentityKey,
}

impl Roster {
    /// A roster from what a face already holds (the live loop's group views): names by
    /// identity, whose names collide, whose safety numbers this profile confirmed, and
    /// this profile's identity.
    pub fn from_parts(
        names: impl IntoIterator<Item = (IdentityKey, String)>,
        colliding: impl IntoIterator<Item = IdentityKey>,
        verified: impl IntoIterator<Item = IdentityKey>,
        me: IdentityKey,
    ) -> Roster {
        Roster {
            names: names.into_iter().collect(),
            colliding: colliding.into_iter().collect(),
            verified: verified.into_iter().collect(),
            me,
        }
    }

    /// The display name (the fragment alone for someone whose name is not known).
    pub fn name(&self, who: &IdentityKey) -> String {
        self.names.get(who).cloned().unwrap_or_else(|| tag(who))
    }

    /// The name as lines show it: tagged where it collides with another's.
    pub fn label(&self, who: &IdentityKey) -> String {
        let name = self.name(who);
        if self.collides(who) {
            tagged(&name, who)
        } else {
            name
        }
    }

    /// Whether `who`'s name collides with another person's of the group.
    pub fn collides(&self, who: &IdentityKey) -> bool {
        self.colliding.contains(who)
    }

    /// Whether this profile confirmed `who`'s safety number (always true for itself).
    pub fn verified(&self, who: &IdentityKey) -> bool {
        *who == self.me || self.verified.contains(who)
    }
}

/// Another member whose name a newcomer's collides with.
#[derive(Clone, Debug)]
pub(crate) struct Clash {
    /// Their name in this group.
    pub name: String,
    /// Their identity.
    pub id: IdentityKey,
    /// This profile confirmed their safety number.
    pub verified: bool,
    /// It is this profile.
    pub you: bool,
}

/// The alert for a member (`who`) who calls themself `name` while the members in
/// `clashes` are in the group under a colliding name, in plain words.
pub(crate) fn clash_alert(name: &str, who: &IdentityKey, clashes: &[Clash]) -> Option<String> {
    if clashes.is_empty() {
        return None;
    }
    let verified = clashes.iter().any(|c| c.verified && !c.you);
    let shown = tagged(name, who);
    let mut text = if verified {
        t!("engine-names-clash-verified", name = &shown)
    } else {
        t!("engine-names-clash", name = &shown)
    };
    // Each part is a sentence of its own.
    let mut say = |part: String| {
        text.push(' ');
        text.push_str(&part);
    };
    let others: Vec<&Clash> = clashes.iter().filter(|c| !c.you).collect();
    if let Some(me) = clashes.iter().find(|c| c.you) {
        say(t!("engine-names-clash-yours", tag = tag(&me.id)));
    }
    match others.as_slice() {
        [] => {}
        [c] if c.verified => say(t!(
            "engine-names-clash-verified-one",
            name = &c.name,
            tag = tag(&c.id)
        )),
        [c] => say(t!(
            "engine-names-clash-known-one",
            name = &c.name,
            tag = tag(&c.id)
        )),
        many => say(t!(
            "engine-names-clash-many",
            list = many
                .iter()
                .map(|c| {
                    let mut s = tagged(&c.name, &c.id);
                    if c.verified {
                        s.push(' ');
                        s.push_str(&t!("engine-names-verified-by-you"));
                    }
                    s
                })
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
    if others.is_empty() {
        say(t!("engine-names-clash-compare"));
    }
    Some(text)
}

/// The alert for a member (`who`) who calls themself `name`, the name of contacts this
/// profile verified (`away`) none of whose keys is in this group.
pub(crate) fn away_alert(name: &str, who: &IdentityKey, away: &[IdentityKey]) -> Option<String> {
    if away.is_empty() {
        return None;
    }
    let keys = away.iter().map(tag).collect::<Vec<_>>().join(", ");
    Some(t!(
        "engine-names-away",
        tag = tag(who),
        name = name,
        keys = keys
    ))
}

impl Client {
    /// The people of a group as this client shows them (see [`Roster`]).
    pub fn roster(&self, group: &GroupId) -> Result<Roster> {
        let g = self.load_group(group)?;
        // Once we are out of the group its MLS state is gone: the names alone.
        let members = self
            .mls_group(&g)
            .map(|m| member_ids(&m))
            .unwrap_or_default();
        self.roster_of(&g, &members)
    }

    /// The roster of group `g` whose current members are `members`.
    pub(crate) fn roster_of(
        &self,
        g: &GroupRecord,
        members: &BTreeSet<IdentityKey>,
    ) -> Result<Roster> {
        let me = self.identity();
        let mut names = BTreeMap::new();
        for id in members.iter().chain(g.names.keys()) {
            let name = if *id == me {
                self.name().to_owned()
            } else {
                g.names.get(id).cloned().unwrap_or_else(|| tag(id))
            };
            names.insert(*id, name);
        }
        let colliding = colliding(names.iter().map(|(k, v)| (*k, v.as_str())));
        let verified = self
            .scan::<Contact>(NS_CONTACTS)?
            .into_iter()
            .filter(|(_, c)| c.verified)
            .filter_map(|(k, _)| IdentityKey::try_from(k.as_slice()).ok())
            .filter(|k| names.contains_key(k))
            .collect();
        Ok(Roster {
            names,
            colliding,
            verified,
            me,
        })
    }

    /// What to tell the user when member `who` of group `g` calls themself `name`
    /// (already in `g.names`): alerts for a name that collides with another current
    /// member's, or with a verified contact's whose key is not in the group.
    pub(crate) fn name_alerts(
        &self,
        g: &GroupRecord,
        who: &IdentityKey,
        name: &str,
    ) -> Result<Vec<String>> {
        let me = self.identity();
        let members = self.mls_group(g).map(|m| member_ids(&m))?;
        let contacts: BTreeMap<IdentityKey, Contact> = self
            .scan::<Contact>(NS_CONTACTS)?
            .into_iter()
            .filter_map(|(k, c)| Some((IdentityKey::try_from(k.as_slice()).ok()?, c)))
            .collect();
        let verified = |id: &IdentityKey| contacts.get(id).is_some_and(|c| c.verified);
        let mut found = Vec::new();
        for id in members.iter().filter(|id| *id != who) {
            let shown = if *id == me {
                self.name().to_owned()
            } else {
                g.names.get(id).cloned().unwrap_or_else(|| tag(id))
            };
            // The name they have here, or the one they had when this profile verified
            // them (a verified Olena who is "Lena" in this group is still Olena).
            let known = contacts
                .get(id)
                .filter(|c| c.verified && !c.name.is_empty())
                .is_some_and(|c| clashes(name, &c.name, id));
            if clashes(name, &shown, id) || known {
                found.push(Clash {
                    name: shown,
                    id: *id,
                    verified: verified(id),
                    you: *id == me,
                });
            }
        }
        let away: Vec<IdentityKey> = contacts
            .iter()
            .filter(|(id, c)| {
                c.verified && *id != who && !members.contains(*id) && clashes(name, &c.name, id)
            })
            .map(|(id, _)| *id)
            .collect();
        Ok(clash_alert(name, who, &found)
            .into_iter()
            .chain(away_alert(name, who, &away))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IdentityKey = [1; 32];
    const B: IdentityKey = [2; 32];
    const C: IdentityKey = [3; 32];

    #[test]
    fn latin_and_cyrillic_look_alikes_collide() {
        // "Olena" with a Cyrillic е (U+0435), then with a Cyrillic О (U+041E).
        assert!(collides("Olena", "Ol\u{0435}na"));
        assert!(collides("Olena", "\u{041E}lena"));
        assert!(!same("Olena", "Ol\u{0435}na"), "a lookup tells them apart");
        // Capitals of either script, and the same look-alike in capitals.
        assert!(collides("OLENA", "ol\u{0435}na"));
        assert!(collides("Alice Zubova", "\u{0410}lice Zub\u{043E}va"));
        // Letters that are confusable in the skeleton: capital I and small l, m and rn,
        // a digit zero for an O.
        assert!(collides("Ivan", "lvan"));
        assert!(collides("Mykola", "Rnykola"));
        assert!(collides("Olena", "0lena"));
        // Invisible characters and extra spaces do not make a name different.
        assert!(collides("Olena", "Ol\u{200B}ena"));
        assert!(collides("Alice Zubova", "  Alice   Zubova "));
        // Fullwidth letters.
        assert!(collides(
            "Olena",
            "\u{FF2F}\u{FF4C}\u{FF45}\u{FF4E}\u{FF41}"
        ));
    }

    #[test]
    fn full_case_folding_of_cyrillic_and_german() {
        assert_eq!(fold("Семья"), fold("семья"));
        assert!(same("ОЛЕНА ЗУБОВА", "Олена Зубова"));
        assert!(same("СЕМЬЯ", "семья"));
        assert_eq!(fold("Straße"), "strasse");
        assert!(same("STRASSE", "Straße"));
        assert!(same("Groß", "GROSS"));
        // ASCII-only folding (what the client did before) misses all of these.
        assert!(!"Семья".eq_ignore_ascii_case("семья"));
        assert!(!"Straße".eq_ignore_ascii_case("STRASSE"));
    }

    #[test]
    fn distinct_names_do_not_collide() {
        for (a, b) in [
            ("Olena", "Iryna"),
            ("Olena", "Olenka"),
            ("Мария", "Марина"),
            ("Олена", "Olena"),
            ("Mykola", "Mykyta"),
            ("Petro", "Petra"),
            ("Alice Zubova", "Alice Zubkova"),
        ] {
            assert!(!collides(a, b), "{a} / {b}");
        }
    }

    #[test]
    fn colliding_picks_every_identity_of_a_look_alike_pair_and_no_other() {
        let names = [(A, "Olena"), (B, "Ol\u{0435}na"), (C, "Iryna")];
        assert_eq!(colliding(names), BTreeSet::from([A, B]));
        assert!(colliding([(A, "Olena"), (C, "Iryna")]).is_empty());
        // The same identity twice is not a collision.
        assert!(colliding([(A, "Olena"), (A, "olena")]).is_empty());
        // A name that copies another's tagged form collides with it.
        let fake = tagged("Olena", &A);
        assert_eq!(
            colliding([(A, "Olena"), (B, fake.as_str())]),
            BTreeSet::from([A, B])
        );
        assert!(clashes(&fake, "Olena", &A));
    }

    #[test]
    fn tags_are_the_notices_fragment() {
        assert_eq!(tag(&A), format!("[{}]", &fingerprint(&A)[..9]));
        assert_eq!(tagged("Olena", &A), format!("Olena {}", tag(&A)));
        assert_ne!(tag(&A), tag(&B));
    }

    #[test]
    fn alerts_say_what_happened() {
        kith_i18n::set_lang(kith_i18n::Lang::En);
        let known = |verified, you| Clash {
            name: "Olena".into(),
            id: A,
            verified,
            you,
        };
        let t = clash_alert("Olena", &B, &[known(false, false)]).unwrap();
        assert!(
            t.starts_with("Careful: a second member calls themself Olena ["),
            "{t}"
        );
        assert!(t.contains(&tag(&A)) && t.contains(&tag(&B)), "{t}");
        assert!(
            t.contains("The Olena you know is still in the group"),
            "{t}"
        );
        let t = clash_alert("Olena", &B, &[known(true, false)]).unwrap();
        assert!(
            t.starts_with("WARNING: a second member calls themself"),
            "{t}"
        );
        assert!(
            t.contains("The Olena you verified is still in the group"),
            "{t}"
        );
        assert!(!t.contains("different key"), "{t}");
        let t = clash_alert("Olena", &B, &[known(false, true)]).unwrap();
        assert!(t.contains("That is your name"), "{t}");
        assert!(clash_alert("Olena", &B, &[]).is_none());
        let t = away_alert("Olena", &B, &[A]).unwrap();
        assert!(
            t.contains("not in this group") && t.contains(&tag(&A)),
            "{t}"
        );
        assert!(away_alert("Olena", &B, &[]).is_none());
    }
}
