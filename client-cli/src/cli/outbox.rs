//! `kith send`, the outbox's part of `kith sync`, and `kith outbox`: a text goes into
//! the store's outbox before it is tried, so a relay that is down (or a crash) loses
//! nothing; what waits there goes out with the next send, sync or chat.

use super::failure::{Failure, transient, usage};
use super::out::Out;
use crate::engine::{Client, ClientError, NotSent, Queued};
use kith_i18n::t;
use kith_protocol::GroupId;
use std::time::Duration;

/// Exit code of a `kith send` whose message waits in the outbox (as for a join still
/// waiting: not a failure of the command, not done either).
const WAITING: u8 = 3;

/// The first line of a text, shortened for a one-line listing.
fn excerpt(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default();
    let short: String = line.chars().take(60).collect();
    if short.len() < text.len() {
        format!("{short}…")
    } else {
        short
    }
}

/// `kith send`: queues the text, then sends the outbox (older messages first), trying
/// again for a relay that comes back within seconds.
pub(crate) async fn send(
    client: &mut Client,
    group: &GroupId,
    text: &str,
    out: &mut Out,
) -> Result<u8, Failure> {
    let mine = client.queue_text(group, text)?;
    let mut delay = Duration::from_millis(500);
    let mut earlier = 0usize;
    for tries in 0.. {
        let mut again = None;
        for (q, r) in client.flush_outbox().await? {
            match r {
                Ok(seq) if q.id == mine => {
                    say_earlier(earlier, out);
                    out.record(serde_json::json!({"seq": seq}), String::new());
                    return Ok(0);
                }
                Ok(_) => earlier += 1,
                Err(NotSent { error, kept: true }) if q.id == mine && !transient(&error) => {
                    // Not the relay being away but something to fix first (the group on
                    // hold, TLS or a plain ws:// refused): refused here, as it always
                    // was. (The chat holds such messages instead, in sight.)
                    client.unqueue(mine)?;
                    say_earlier(earlier, out);
                    return Err(error.into());
                }
                Err(NotSent { error, kept: true }) => {
                    if q.id == mine || again.is_none() {
                        again = Some((q.id == mine, error));
                    }
                }
                Err(NotSent { error, kept: false }) if q.id == mine => {
                    say_earlier(earlier, out);
                    return Err(error.into());
                }
                Err(NotSent { error, .. }) => dropped(client, &q, &error, out),
            }
        }
        let Some((_, error)) = again else {
            // Ours was not tried: it waits behind an earlier one whose fate is unknown
            // yet (see `engine/outbox.rs`).
            break;
        };
        // Passing failures get the usual five more tries (0.5 s to 8 s apart), as every
        // command that sends: long enough for a group whose relay is gone to go on at a
        // fallback (`--failover-after`), which the next try does.
        let retry = transient(&error) && tries < 5;
        if !retry {
            say_earlier(earlier, out);
            out.note(t!("cli-send-kept", why = error.to_string()));
            out.record(
                serde_json::json!({"outbox": mine, "sent": false, "error": error.to_string()}),
                String::new(),
            );
            return Ok(WAITING);
        }
        client.close().await;
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(8));
    }
    say_earlier(earlier, out);
    out.note(t!("cli-send-kept-behind"));
    out.record(
        serde_json::json!({"outbox": mine, "sent": false}),
        String::new(),
    );
    Ok(WAITING)
}

fn say_earlier(n: usize, out: &mut Out) {
    if n > 0 {
        out.note(t!("cli-outbox-sent-earlier", n = n));
    }
}

/// A message of the outbox refused for good: said, so that it is never lost silently.
fn dropped(client: &Client, q: &Queued, error: &ClientError, out: &mut Out) {
    let group = client.group_name(&q.group).unwrap_or_default();
    out.note(t!(
        "cli-outbox-dropped",
        group = &group,
        text = excerpt(&q.text),
        why = error.to_string()
    ));
}

/// The outbox's part of `kith sync`: whatever waits goes now; said only when there was
/// something. Returns how many still wait.
pub(crate) async fn flush(client: &mut Client, out: &mut Out) -> Result<usize, Failure> {
    if client.outbox()?.is_empty() {
        return Ok(0);
    }
    let mut sent = 0usize;
    for (q, r) in client.flush_outbox().await? {
        match r {
            Ok(_) => sent += 1,
            Err(NotSent { kept: true, .. }) => {}
            Err(NotSent { error, .. }) => dropped(client, &q, &error, out),
        }
    }
    let waiting = client.outbox()?.len();
    if sent > 0 {
        out.note(t!("cli-outbox-sent", n = sent));
    }
    if waiting > 0 {
        out.note(t!("cli-outbox-waiting", n = waiting));
    }
    Ok(waiting)
}

/// `kith outbox [--drop N]`.
pub(crate) fn list(client: &Client, drop: Option<u64>, out: &mut Out) -> Result<u8, Failure> {
    if let Some(n) = drop {
        if !client.unqueue(n)? {
            return Err(usage(t!("engine-outbox-gone", id = n)));
        }
        out.record(
            serde_json::json!({"dropped": n}),
            t!("cli-outbox-dropped-one", id = n),
        );
        return Ok(0);
    }
    let queued = client.outbox()?;
    if queued.is_empty() {
        out.text(t!("cli-outbox-empty"));
    }
    for q in &queued {
        let group = client.group_name(&q.group).unwrap_or_default();
        let state = if q.pending { "unconfirmed" } else { "waiting" };
        let said = if q.pending {
            t!("cli-outbox-unconfirmed")
        } else {
            t!("cli-outbox-state-waiting")
        };
        out.record(
            serde_json::json!({
                "id": q.id,
                "group": group,
                "group_id": q.group.to_hex(),
                "text": q.text,
                "created": q.created,
                "state": state,
            }),
            format!(
                "{:>3}  {}  {}  {}  «{}»",
                q.id,
                kith_i18n::time(q.created),
                group,
                said,
                excerpt(&q.text)
            ),
        );
    }
    if !queued.is_empty() {
        out.note(t!("cli-outbox-hint"));
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::excerpt;

    #[test]
    fn an_excerpt_is_one_line_of_at_most_sixty_characters() {
        assert_eq!(excerpt("short"), "short");
        assert_eq!(excerpt("two\nlines"), "two…");
        let long = "ж".repeat(70);
        assert_eq!(excerpt(&long), format!("{}…", "ж".repeat(60)));
    }
}
