# engine

## The client engine: errors, and the notices and alerts it writes into a group's
## history (engine/mod.rs, sync.rs, state.rs, names.rs, invite.rs, knock.rs, records.rs,
## place.rs, moving.rs, repair.rs, failover.rs, commit.rs, outcome.rs, send.rs,
## join_verify.rs). A notice is written once, in the language of the moment.

engine-error-mls = MLS: { $why }
engine-error-hostile = refused data from the relay: { $why }
engine-error-unconfirmed = { $face ->
    [chat] the relay did not confirm your message ({ $error }). It may already have reached the group: if it did, it will appear in the conversation. Check there before sending it again.
   *[other] the relay did not confirm your message ({ $error }). It may already have reached the group: if it did, the next `kith read` (or the chat) will show it. Check there before sending it again.
}
engine-error-commit-locked = an admin repaired this group a moment ago; for a while only admins can change it (add, remove, update keys). Messages still go through. Try again later.

# engine/mod.rs
engine-client-name-needed = a display name is needed
engine-client-wrong-key-reset = { $face ->
    [chat] The relay refused this epoch's key: the last commit had given it a wrong one, which would have locked every member out. Your client (an admin's) gave it the right key. If this happens again, that member's client is modified: remove them with /remove.
   *[other] The relay refused this epoch's key: the last commit had given it a wrong one, which would have locked every member out. Your client (an admin's) gave it the right key. If this happens again, that member's client is modified: remove them with `kith remove`.
}
engine-client-wrong-key-reset-by = { $face ->
    [chat] The relay refused this epoch's key: the last commit, by { $who }, had given it a wrong one, which would have locked every member out. Your client (an admin's) gave it the right key. If this happens again, that member's client is modified: remove them with /remove.
   *[other] The relay refused this epoch's key: the last commit, by { $who }, had given it a wrong one, which would have locked every member out. Your client (an admin's) gave it the right key. If this happens again, that member's client is modified: remove them with `kith remove`.
}
engine-client-key-refused = the relay refuses this member's key for the current epoch of "{ $group }": the relay is showing different histories to different members (a fork). An admin's client puts a wrong key right on its next sync; if it stays, warn the group by other means.
engine-client-key-refused-by = the relay refuses this member's key for the current epoch of "{ $group }": the last commit, by { $who }, probably gave it a wrong key, or the relay is showing different histories to different members (a fork). An admin's client puts a wrong key right on its next sync; if it stays, warn the group by other means.
engine-client-kept-relay-limit = the relay's limit, 30 days unless its operator set another
engine-client-away-too-long = the relay no longer lets this copy of "{ $group }" in (epoch { $epoch }). This happens when you were away longer than the group keeps messages ({ $kept }): what was sent meanwhile is gone. { $next }. You keep your identity, so those who verified you need not again
engine-client-no-such-group = no such group
engine-client-group-ambiguous = { $n } groups are called "{ $query }"; name one by its id ({ $ids })
engine-client-group-id-ambiguous = the id prefix { $prefix } matches { $n } groups; give more digits
engine-client-no-group = no group called "{ $query }" (see `kith groups`)
engine-client-no-group-state = this profile has no state for the group any more
engine-client-group-name-needed = a group name is needed
engine-client-creation-forbidden = this relay only lets holders of its creation secret create groups (set { "KITH_CREATION_SECRET" })
engine-client-created = You created the group
engine-client-no-member = { $face ->
    [chat] no member "{ $query }" in this group (see /members)
   *[other] no member "{ $query }" in this group (see `kith members`)
}
engine-client-member-ambiguous = { $n } members match "{ $query }"; use a fingerprint prefix
engine-client-on-hold = { $face ->
    [chat] "{ $group }" is on hold: { $who } made a change without the right to, and an admin's client has not undone it yet. Nothing is sent to the group until then (an intruder could read it). An admin's client undoes it on its next sync.
   *[other] "{ $group }" is on hold: { $who } made a change without the right to, and an admin's client has not undone it yet. Nothing is sent to the group until then (an intruder could read it). Admins: run `kith sync`.
}
engine-client-status-removed-by = you were removed from "{ $group }" by { $by }
engine-client-status-removed = you were removed from "{ $group }"
engine-client-status-left = you left "{ $group }"
engine-client-remove-yourself = { $face ->
    [chat] to remove yourself, use /leave
   *[other] to remove yourself, use `kith leave`
}
engine-client-remove-admins-only = only admins can remove members
engine-client-not-a-member = not a member (any more)
engine-client-last-admin = you are this group's only admin: remove the other members first, or the group would be left without anyone able to invite or remove
engine-client-left = You left the group

# engine/sync.rs
# The word that begins an alert about a refused change ("REFUSED: Olena tried to…").
engine-refused-mark = REFUSED
engine-sync-epoch-withheld = the relay withholds messages of an epoch we proved access to
engine-sync-commit-withheld = the group's log continues in epoch { $next }, but this member is at epoch { $epoch }: a commit was withheld
engine-sync-stuck = { $face ->
    [chat] a member posted a commit for "{ $group }" that no client can read, so the group cannot go on until an admin's client voids it (it does so on its next sync)
   *[other] a member posted a commit for "{ $group }" that no client can read, so the group cannot go on until an admin's client voids it (it does so on its next sync: admins, run `kith sync`)
}
engine-sync-missing = { $n } message(s) before this one are missing: they expired on the relay, or the relay withheld them
engine-sync-refused-commit = refused a commit: { $why }. No client follows it; an admin's client voids it on its next sync.
engine-sync-refused-commit-unsigned = refused a commit: { $why }. Such a commit is not signed in a way anyone can check, so who sent it cannot be known. No client follows it; an admin's client voids it on its next sync.
engine-sync-refused-message = refused a message: { $why }
engine-sync-bad-padding = bad padding
engine-sync-not-mls = not an MLS message
engine-sync-not-group-message = not an MLS group message
engine-sync-plaintext = a plaintext MLS message where only encrypted ones are allowed
engine-sync-epoch-label = the relay's epoch label does not match the message
engine-sync-kind-label = the relay's kind label does not match the message
engine-sync-undecryptable = could not decrypt or verify it ({ $error })
engine-sync-fork = FORK: messages made in a view of the group that differs from yours at this epoch — the relay is showing different histories to different members. Warn the group by other means and compare safety numbers.
engine-sync-other-view = it was made in a view of the group unlike yours at this epoch, or damaged on the way. If more messages like this follow, the relay may be showing different histories to different members: then compare safety numbers with the others by other means
engine-sync-relabelled = A label on this message was changed on its way (by the relay or the network); the message itself is intact and shown. Nothing to do unless this keeps happening.
engine-sync-message-no-credential = a message from a member without a valid credential
engine-sync-unreadable-version = a message this version cannot read
engine-sync-proposal = a standalone proposal, which Kith does not use
engine-sync-external-join = an external join proposal, which Kith does not accept
engine-sync-commit-no-credential = a commit from a member without a valid credential
engine-sync-wrong-number = The relay answered this message of yours with a wrong number ({ $claimed }); it is shown where the relay really stored it ({ $seq })
engine-sync-counter-missing = { $n } message(s) from { $name } before this one did not reach you: they expired on the relay, were undone by a repair, or the relay withheld them
engine-sync-counter-behind = this message from { $name } comes after a later one of theirs: the relay changed the order of the group's messages
engine-sync-view-withheld = before writing this, { $name } had received { $n } message(s) of the group that have not reached you: the relay withheld them from you, or changed their order
engine-sync-view-different = before writing this, { $name } was shown other messages, or another order, than you were: the relay is not showing everyone the same history. If this keeps happening, warn the group by other means
engine-sync-renamed = { $old } is now called { $name }
engine-sync-named = [{ $fingerprint }] is { $name }
engine-sync-leaving = { $name } is leaving the group
engine-sync-add-malformed = { $name } tried to add a member with a malformed credential
engine-sync-remove-unknown = a commit removes an unknown member
engine-sync-remove-not-admin = { $name } tried to remove { $member } without being an admin
engine-sync-update-proposal = { $name } sent an update proposal, which Kith does not use
engine-sync-identity-changed = { $name } tried to change their identity key in a commit
# Completes "NAME tried to …" (engine-sync-offense).
engine-sync-refusal-expired-invite = admit someone with an invite that had expired
engine-sync-let-you-back = { $by } let you back in
engine-sync-let-back = { $by } let { $name } back in with a fresh key (their copy of the group had stopped working); same identity as before
engine-sync-added = { $by } added a new member [{ $fingerprint }]
engine-sync-added-invited = { $by } added a new member [{ $fingerprint }] (invited by { $inviter })
engine-sync-removed-you = { $by } removed you from the group
engine-sync-member-left = { $name } left the group
engine-sync-removed = { $by } removed { $name }
engine-sync-moved = { $by } moved the group to the relay { $relay }; your client follows it there
engine-sync-you-let-back = You let { $name } [{ $fingerprint }] back in with a fresh key (their copy of the group had stopped working); same identity as before
engine-sync-you-added = You added { $name } [{ $fingerprint }]
engine-sync-you-removed = You removed { $name }
engine-sync-you-moved = You moved the group to the relay { $relay }; every member's client follows it there
engine-sync-offense = { $face ->
    [chat] { engine-refused-mark }: { $name } tried to { $why }. Their change does not count here. Until an admin's client undoes it, this client sends nothing to the group; admins can remove { $name } with /remove.
   *[other] { engine-refused-mark }: { $name } tried to { $why }. Their change does not count here. Until an admin's client undoes it, this client sends nothing to the group; admins can remove { $name } with `kith remove`.
}

# engine/state.rs
engine-state-breaks-limits = the group state breaks its limits
engine-state-board-too-large = the board is too large
# Refusals complete "NAME tried to …" (engine-sync-offense).
engine-state-refusal-no-admin = leave the group without any admin
engine-state-refusal-outsider-admin = make a non-member [{ $fingerprint }] an admin
engine-state-refusal-add = add members without being an admin (and without an open invite)
engine-state-refusal-unapproved = admit someone whom no admin approved
engine-state-refusal-admins = change who the admins are without being an admin
engine-state-refusal-board = change the board without being an admin
engine-state-refusal-settings = change the group's settings without being an admin
engine-state-refusal-invites = change the group's invites without being an admin
# What a commit changed, for the group's history. $actor is "you" (this profile's own
# change; $by is then empty) or "other" ($by: the member's name).
engine-state-told-admin-keys = { $actor ->
    [you] You updated the admins' keys at the relay
   *[other] { $by } updated the admins' keys at the relay
}
engine-state-told-promoted = { $actor ->
    [you] You made { $name } an admin
   *[other] { $by } made { $name } an admin
}
engine-state-told-demoted = { $actor ->
    [you] You made { $name } a member (no longer an admin)
   *[other] { $by } made { $name } a member (no longer an admin)
}
engine-state-told-pinned = { $actor ->
    [you] You pinned to the board: { $title }
   *[other] { $by } pinned to the board: { $title }
}
engine-state-told-edited = { $actor ->
    [you] You edited the board entry: { $title }
   *[other] { $by } edited the board entry: { $title }
}
engine-state-told-unpinned = { $actor ->
    [you] You removed from the board: { $title }
   *[other] { $by } removed from the board: { $title }
}
engine-state-told-disappear-off = { $actor ->
    [you] You turned disappearing messages off
   *[other] { $by } turned disappearing messages off
}
engine-state-told-disappear = { $actor ->
    [you] You set messages to disappear after { $duration }
   *[other] { $by } set messages to disappear after { $duration }
}
engine-state-told-history-off = { $actor ->
    [you] You stopped sharing history with newcomers
   *[other] { $by } stopped sharing history with newcomers
}
engine-state-told-history = { $actor ->
    [you] { $n ->
        [one] You set newcomers to receive the last message
       *[other] You set newcomers to receive the last { $n } messages
    }
   *[other] { $n ->
        [one] { $by } set newcomers to receive the last message
       *[other] { $by } set newcomers to receive the last { $n } messages
    }
}
engine-state-told-fallback-added = { $actor ->
    [you] You added a fallback relay: { $url }
   *[other] { $by } added a fallback relay: { $url }
}
engine-state-told-fallback-removed = { $actor ->
    [you] You removed the fallback relay { $url }
   *[other] { $by } removed the fallback relay { $url }
}
engine-state-told-let-back-on = { $actor ->
    [you] You set the group to let members who were away too long back in without asking an admin
   *[other] { $by } set the group to let members who were away too long back in without asking an admin
}
engine-state-told-let-back-off = { $actor ->
    [you] You set the group to ask an admin before letting a member back in
   *[other] { $by } set the group to ask an admin before letting a member back in
}
engine-state-told-invite-approval = { $actor ->
    [you] You made an invite that needs an admin's approval
   *[other] { $by } made an invite that needs an admin's approval
}
engine-state-told-invite = { $actor ->
    [you] You made an invite
   *[other] { $by } made an invite
}

# engine/names.rs: a name that could be taken for another's. The alert is the first
# sentence, then those that apply, each after a space.
engine-names-clash = Careful: a second member calls themself { $name }.
engine-names-clash-verified = WARNING: a second member calls themself { $name }.
engine-names-clash-yours = That is your name: you are { $tag }. Tell the others by other means which one is you.
engine-names-clash-verified-one = The { $name } you verified is still in the group { $tag }: this is someone else, with another key. Compare safety numbers before trusting them.
engine-names-clash-known-one = The { $name } you know is still in the group { $tag }. Compare safety numbers before trusting either.
engine-names-clash-many = Still in the group under a look-alike name: { $list }. Compare safety numbers before trusting any of them.
engine-names-verified-by-you = (verified by you)
engine-names-clash-compare = Compare safety numbers before trusting them.
engine-names-away = WARNING: someone new { $tag } uses the name { $name } of a contact you verified, whose key { $keys } is not in this group. It may be them with a new profile, or someone else: compare safety numbers before trusting this member.

# engine/invite.rs
engine-unexpected-answer = unexpected answer
engine-invite-already-used = this invite code was already used; codes work once — ask for a new one
engine-invite-expired = this invite has expired; ask for a new one
engine-invite-no-such = no such invite on this relay: it was mistyped, revoked, or expired long ago
engine-invite-codes-closed = { $face ->
    [chat] Someone left the group or stopped being an admin, so every open invite was closed: whoever held its secret could otherwise still use it. These codes of yours no longer work: { $codes }. To let someone in, make a new code with /invite.
   *[other] Someone left the group or stopped being an admin, so every open invite was closed: whoever held its secret could otherwise still use it. These codes of yours no longer work: { $codes }. To let someone in, make a new code with `kith invite`.
}
engine-invite-admitted-wrong-joiner = { engine-refused-mark }: { $by } added a member [{ $joiner }] for an invite that someone else [{ $real }] answered: { $by }'s client is modified. Until an admin's client removes the member they added, this client sends nothing to the group.
engine-invite-admitted-nobody = { engine-refused-mark }: { $by } added a member [{ $joiner }] for an invite nobody answered (or whose answer does not open): { $by }'s client is modified. Until an admin's client removes that member, this client sends nothing to the group.
engine-invite-admins-only = only admins can invite
engine-invite-ttl = an invite lasts between 1 second and 30 days
engine-invite-bad-relay = bad relay URL
engine-invite-too-many = this group has { $n } open invites, the most it can hold; wait for some to be used or expire
engine-invite-relay-unreachable = the relay this code is on ({ $relay }) cannot be reached ({ $error }). Try again later; if it stays so, ask for a new code (on another relay, if this one is blocked where you are). `kith doctor CODE` shows what fails
engine-invite-does-not-open = the invitation does not open with this code
engine-invite-bad-key = the invitation's key is malformed
engine-invite-bad-signature = the invitation's signature is malformed
engine-invite-not-signed = the invitation is not signed by its inviter
engine-invite-expired-waiting = the invite expired before an admin admitted you; ask for a new one
engine-invite-welcome-damaged = the welcome does not open: the welcome to "{ $group }" was damaged on its way or at the relay. Kith tries again at each sync; if this goes on, ask an admin for a new invite code
engine-invite-welcome-unusable = the welcome to "{ $group }" cannot be used ({ $why }), so this join cannot complete; ask an admin for a new invite code
engine-invite-name-taken = This group already has a member of your name, or of one that looks the same ({ $taken }). The others see you as { $you }; tell them your fingerprint by other means.
engine-invite-welcome-not-mls = the welcome is not an MLS message
engine-invite-welcome-not-welcome = the welcome is not an MLS Welcome
engine-invite-welcome-bad-tree = the welcome's ratchet tree is malformed
engine-invite-welcome-refused = the MLS welcome was refused ({ $error })
engine-invite-welcome-other-group = the welcome is for another group than the invitation
engine-invite-welcome-bad-member = the group has a member with a malformed credential
engine-invite-welcome-no-inviter = the inviter is not in the group the welcome is for
engine-invite-welcome-bad-sender = the welcome's sender has a malformed credential
engine-invite-welcome-inviter-not-admin = the inviter is not an admin of the group
engine-invite-welcome-not-member = the welcome was not made by a member
engine-invite-welcome-not-approved = the invite needs an admin's approval, but the welcome is not from an admin
engine-invite-welcome-invite-open = the welcome comes from a commit that did not close this invite
engine-invite-back-in = You are back in the group, let in again by { $admitter }. What was sent while you were out is not here.
engine-invite-joined = You joined, invited by { $inviter }, admitted by { $admitter }
engine-invite-answer-unopened = An invite was answered with data that does not open; nobody was added.
engine-invite-answer-bad-key-package = An invite was answered with an invalid key package; nobody was added.
engine-invite-answer-bad-credential = An invite was answered with a malformed credential; nobody was added.
engine-invite-asks-to-join = { $face ->
    [chat] { $name } [{ $fingerprint }] asks to join (invited by { $inviter }): /requests to see, /approve or /deny to decide.
   *[other] { $name } [{ $fingerprint }] asks to join (invited by { $inviter }): `kith requests "{ $group }"` to see, `kith approve` or `kith deny` to decide.
}
engine-invite-asks-careful = Careful: the group already has a member of this name, or of one that looks the same ({ $list }). Compare fingerprints with the person before approving.
engine-invite-joiner-key-package = the joiner's key package is invalid

# engine/knock.rs: coming back after being away longer than the group keeps messages.
# The first five say what happens next, inside engine-client-away-too-long.
engine-knock-refused = An admin did not let you back in when Kith asked. If you should be in the group, ask an admin for a new invite code and run `kith join CODE`
engine-knock-waiting = { $face ->
    [chat] Kith asked the group's admins to let you back in; Kith brings you back as soon as one of them does
   *[other] Kith asked the group's admins to let you back in; your next `kith sync` after one of them does brings you back
}
engine-knock-no-admin = no admin of the group can be asked from here: ask one for a new invite code and run `kith join CODE`
engine-knock-asked = { $face ->
    [chat] Kith asked the group's admins to let you back in with the same identity; Kith brings you back as soon as one of them does
   *[other] Kith asked the group's admins to let you back in with the same identity; your next `kith sync` after one of them does brings you back
}
engine-knock-failed = Kith could not ask the admins to let you back in ({ $why }); it tries again at the next sync. You can also ask an admin for a new invite code and run `kith join CODE`
engine-knock-box-full = too many requests wait at the relay
engine-knock-bad-unopened = A request to come back into the group does not open.
engine-knock-bad-malformed = A request to come back into the group is malformed.
engine-knock-bad-place = A request to come back into the group was made for another group or place.
engine-knock-bad-key-package = A request to come back into the group carries an invalid key package.
engine-knock-bad-credential = A request to come back into the group carries a malformed credential.
engine-knock-bad-signature = A request to come back into the group is not signed by the key it carries.
engine-knock-bad-not-member = A request to come back into the group came from { $who }, who is not in the group (removed or never a member): nothing was done. If they should be in the group, invite them with a new code.
engine-knock-bad-old = A request to come back into the group from { $who } is too old (or dated ahead).
engine-knock-bad-not-behind = A request to come back into the group from { $who } comes from a copy of the group that is not behind.
engine-knock-asks = { $face ->
    [chat] { $who } was away longer than the group keeps messages and asks to be let back in, with the same identity as before. /approve lets them back in, /deny refuses (see /requests). A lost or taken phone could ask too: if unsure, check with them by other means first.
   *[other] { $who } was away longer than the group keeps messages and asks to be let back in, with the same identity as before. `kith approve` lets them back in, `kith deny` refuses (see `kith requests "{ $group }"`). A lost or taken phone could ask too: if unsure, check with them by other means first.
}
engine-knock-key-package = the key package is invalid
engine-knock-answer-damaged = the answer to your request to come back was damaged on its way or at the relay; Kith tries again at each sync
engine-knock-answer-unusable = the answer to your request to come back cannot be used ({ $why }); Kith asks again at the next sync

# engine/records.rs: a file or a deleted message as one line of text.
engine-record-file = [file] { $name } ({ $size })
engine-record-deleted = [deleted]

# engine/place.rs
engine-place-creation-forbidden = the relay { $relay } only lets holders of its creation secret set up groups (set { "KITH_CREATION_SECRET" })
engine-place-old-copy-deleted = The group's old copy at { $relay } was deleted: every member follows the group here.
engine-place-old-copy-expired = The group's old copy at { $relay } was deleted: the old relay's retention has passed since the move.

# engine/moving.rs: moving a group to another relay.
engine-move-not-an-address = not a relay address: "{ $address }" (wss://host[:port] or ws://host:port)
engine-move-admins-only = only admins can move the group
engine-move-already-home = the group's home is { $relay } already
engine-move-unreachable = cannot reach { $relay } ({ $error }); nothing was changed. `kith doctor { $relay }` says why
engine-move-nothing = nothing to move
engine-move-committed-unreachable = { $face ->
    [chat] the move is committed, but this client could not reach { $relay } yet; it goes on at its next sync
   *[other] the move is committed, but this client could not reach { $relay } yet; `kith sync` goes on
}
engine-move-relay-too-old = { $relay } runs a relay too old to take a group from elsewhere; nothing was changed
engine-move-needs-secret = { $relay } only lets holders of its creation secret set groups up: set { "KITH_CREATION_SECRET" } to it and run this again; nothing was changed. Members' clients get the secret with the group's state, so that they can set the group up there
engine-move-wrong-secret = { $relay } refuses the creation secret in { "KITH_CREATION_SECRET" }: ask its operator for the right one; nothing was changed. Members' clients get the secret with the group's state, so that they can set the group up there

# engine/repair.rs: what an admin's client put right.
engine-repair-unreadable = the relay sent a repair record that does not parse
# Who did it, when the key is no admin's this client knows.
engine-repair-an-admin = an admin
engine-repair-voided = { $by } voided a commit (message { $from }) that members' clients refused to follow, and what came after it, which would otherwise have stopped the group. The group goes on from before it. Nothing you sent or received is lost; for a while only admins can change the group.
engine-repair-voided-followed = { $by } voided a commit (message { $from }) that other members' clients could not read, but this client had already followed it. This client cannot go on in this group: ask an admin to remove you and invite you again.
engine-repair-key-reset = { $by } gave the relay the right access key for the group's current epoch, so that members can reach the group again. For a while only admins can change the group.
engine-repair-key-reset-after = { $by } gave the relay the right access key for the group's current epoch, so that members can reach the group again. The commit before it, by { $who }, had given the relay a wrong key: their client may be modified. For a while only admins can change the group.
engine-repair-retention-shorter = The relay keeps this group's messages for only { $held }, not the { $agreed } the group agreed: members who are offline longer lose messages they have not read. An admin's client sets it back on its next sync; if it stays, the relay's operator limits it.
engine-repair-retention-longer = The relay keeps this group's messages for { $held }, not the { $agreed } the group agreed: the relay keeps encrypted messages longer than the group wants. An admin's client sets it back on its next sync; if it stays, the relay's operator limits it.
engine-repair-retention-reset = The relay was set to keep this group's messages for { $asked }, not the { $agreed } the group agreed. Your client set it back.
engine-repair-retention-default = relay's default time

# engine/failover.rs: a relay lost, a fallback relay, the way home.
engine-failover-soon = { $why }. If this lasts { $wait } more, Kith goes on at the group's fallback relay
engine-failover-fallback = { $left } could not be reached for { $since }. The group goes on at its fallback relay { $fallback }: read and write as before. Members who cannot reach { $left } either come here on their own, and Kith goes back to { $home } as soon as it answers again. Messages that only { $left } held and that had not reached you are not here.
engine-failover-home = { $left } could not be reached; the group's home { $home } answers, and the group goes on there
engine-failover-back-home = { $home } answers again: the group is back at its home. What you wrote at { $was } meanwhile is posted again here, for those who could not read it there.
engine-failover-writers-elsewhere = { $names } wrote at the fallback relay { $fallback }: they cannot reach { $relay } (a regional block, or their network). Their clients come back here on their own when it answers for them, and bring what they wrote. If it stays blocked for them, an admin can move the group to a relay everyone reaches (`kith group move`).

# engine/commit.rs, outcome.rs, send.rs, join_verify.rs
engine-commit-not-served = the relay accepted our commit as message { $seq } but does not serve it
engine-commit-too-large = commit too large for the relay
engine-no-answer-in-time = no answer in time ({ $what })
engine-send-too-long = message too long: { $over ->
    [one] { $over } character
   *[other] { $over } characters
} too many (of { $total }); shorten it
engine-send-nothing = nothing to send
engine-send-too-large = message too large
engine-join-bad-signature = a signature in the group's tree is invalid
engine-client-creation-secret-wrong = this relay refuses the creation secret in { "KITH_CREATION_SECRET" }: it is not this relay's. Ask the relay's operator for the right one

## The outbox
engine-outbox-gone = Message { $id } is not in the outbox (it was sent or dropped already).

## duress notice (engine/sync.rs: a member's client says its device was unlocked under duress)
engine-duress-notice = { $name }'s client says that { $name }'s device was unlocked under duress. What comes from that device from now on is not from { $name }.
engine-duress-notice-admin = { $face ->
    [chat] { $name }'s client says that { $name }'s device was unlocked under duress. What comes from that device from now on is not from { $name }. If { $name } is still among the members, remove them with /remove { $name }, and check with { $name } by phone or in person before letting them back in.
   *[other] { $name }'s client says that { $name }'s device was unlocked under duress. What comes from that device from now on is not from { $name }. If { $name } is still among the members, remove them: kith remove "{ $group }" "{ $name }". Check with { $name } by phone or in person before letting them back in.
}
