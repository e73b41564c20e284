//! The daemon's locale guard, alone in its process: it changes the process-wide
//! language, zone and face, which the crate's unit tests also set.

use kith_i18n::{Face, Lang, Locale, face, lang, locale, speaking, utc};

#[test]
fn a_guard_gives_back_the_locale_and_face_it_found() {
    let before = (locale(), face());
    let other = Locale {
        lang: if before.0.lang == Lang::Ru {
            Lang::En
        } else {
            Lang::Ru
        },
        utc: !before.0.utc,
        zone: before.0.zone.clone(),
    };
    {
        let _g = speaking(&other, Face::Chat);
        assert_eq!(lang(), other.lang);
        assert_eq!(utc(), other.utc);
        assert_eq!(face(), Face::Chat);
    }
    assert_eq!((locale(), face()), before);
}
