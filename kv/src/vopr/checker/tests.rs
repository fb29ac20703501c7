use super::*;

fn v(text: &str) -> Value {
    Some(text.as_bytes().to_vec())
}

#[test]
fn acknowledged_values_must_be_read_back() {
    let mut c = Checker::default();
    let a1 = c.sent_write(1, v("a1"), 0, 1, 10);
    c.acknowledged(a1, 20);
    let r = c.sent_read(1, 30);
    assert_eq!(c.read(r, v("a1"), 40), Ok(()));
    let r = c.sent_read(1, 50);
    assert!(matches!(c.read(r, None, 60), Err(Violation::Stale { .. })), "a lost put");
    let a2 = c.sent_write(1, v("a2"), 0, 2, 70);
    c.acknowledged(a2, 80);
    let r = c.sent_read(1, 90);
    let err = c.read(r, v("a1"), 100).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("acknowledged at 0.000 ms") && text.contains("put \"a2\""), "{text}");
    let r = c.sent_read(1, 110);
    assert!(matches!(c.read(r, v("zz"), 120), Err(Violation::NeverWritten { .. })));
    let r = c.sent_read(2, 130);
    assert_eq!(c.read(r, None, 140), Ok(()), "a key never written is absent");
    let r = c.sent_read(2, 150);
    assert!(matches!(c.read(r, v("a2"), 160), Err(Violation::NeverWritten { .. })), "other key");
}

#[test]
fn a_get_concurrent_with_a_put_may_return_either() {
    let mut c = Checker::default();
    let old = c.sent_write(5, v("old"), 0, 1, 0);
    c.acknowledged(old, 1);
    let new = c.sent_write(5, v("new"), 1, 1, 2);
    let r1 = c.sent_read(5, 3);
    let r2 = c.sent_read(5, 3);
    c.acknowledged(new, 4); // after both gets were sent
    assert_eq!(c.read(r1, v("old"), 5), Ok(()));
    assert_eq!(c.read(r2, v("new"), 5), Ok(()));
    // Once "new" was acknowledged, a get sent later must not see "old".
    let r3 = c.sent_read(5, 6);
    assert!(c.read(r3, v("old"), 7).is_err());
}

#[test]
fn once_a_newer_value_is_read_an_older_one_never_reappears() {
    let mut c = Checker::default();
    let old = c.sent_write(3, v("old"), 0, 1, 0);
    c.acknowledged(old, 1);
    let new = c.sent_write(3, v("new"), 1, 1, 2); // never acknowledged
    let r = c.sent_read(3, 3);
    assert_eq!(c.read(r, v("new"), 4), Ok(()), "an unacknowledged write may be seen");
    let _ = new;
    let r = c.sent_read(3, 5);
    let err = c.read(r, v("old"), 6).unwrap_err().to_string();
    assert!(err.contains("first read at"), "{err}");
}

#[test]
fn a_write_in_doubt_may_appear_until_its_fate_is_fixed() {
    let mut c = Checker::default();
    let doubt = c.sent_write(4, v("doubt"), 0, 1, 0); // in flight at the crash
    c.crashed();
    // Before the restart serves, and with no newer write, it may show up.
    let r = c.sent_read(4, 1);
    assert_eq!(c.read(r, None, 2), Ok(()));
    c.serving(3);
    let newer = c.sent_write(4, v("newer"), 1, 1, 4);
    c.acknowledged(newer, 5);
    // Resurrected after the restart fixed its fate and a newer write was
    // acknowledged: stale.
    let r = c.sent_read(4, 6);
    let err = c.read(r, v("doubt"), 7).unwrap_err().to_string();
    assert!(err.contains("fate fixed by the restart"), "{err}");
    let _ = doubt;
}

#[test]
fn a_write_in_doubt_without_a_crash_may_take_effect_late() {
    let mut c = Checker::default();
    let late = c.sent_write(6, v("late"), 0, 1, 0); // its connection timed out
    let newer = c.sent_write(6, v("newer"), 1, 1, 10);
    c.acknowledged(newer, 11);
    let r = c.sent_read(6, 12);
    assert_eq!(c.read(r, v("late"), 13), Ok(()), "delivered after a partition healed");
    let _ = late;
}

#[test]
fn nothing_is_found_only_if_a_delete_or_the_start_can_explain_it() {
    let mut c = Checker::default();
    let put = c.sent_write(8, v("p"), 0, 1, 0);
    c.acknowledged(put, 1);
    let del = c.sent_write(8, None, 0, 2, 2);
    let r = c.sent_read(8, 3);
    assert_eq!(c.read(r, None, 4), Ok(()), "the delete is in flight");
    c.acknowledged(del, 5);
    let put2 = c.sent_write(8, v("q"), 0, 3, 6);
    c.acknowledged(put2, 7);
    let r = c.sent_read(8, 8);
    assert!(c.read(r, None, 9).is_err(), "the delete was replaced by an acknowledged put");
}
