# admin
# The commands that run a group (kith board, requests, approve, group set, group show…).

admin-confirm-with-yes = { $what } Run again with --yes to go ahead.
admin-confirm-ask = { $what } Go ahead? [y/N]
admin-nothing-changed = nothing changed

admin-board-empty = The board is empty.
admin-board-by = — { $name }, { $time } { $zone }
admin-board-which-group = which group? `kith board GROUP`
admin-board-stored = kith: could not sync ({ $error }); showing the board as stored
admin-board-pinned = Pinned [{ $id }] { $title }.
admin-board-edit-what = give --title and/or --text
admin-board-edited = Edited [{ $id }].
admin-board-removed = Removed [{ $id }] from the board.

admin-requests-stored = kith: could not sync ({ $error }); showing requests as stored
admin-requests-none = No join requests.
admin-request-back = { $number }. { $name }  [{ $fingerprint }]  was away too long and asks to come back, asked { $time } { $zone }
admin-request-invited = { $number }. { $name }  [{ $fingerprint }]  invited by { $inviter }, asked { $time } { $zone }
admin-requests-compare = Compare the fingerprint with the person before `kith approve "{ $group }" N`.
admin-approved = Approved { $name }; they are being added.
admin-denied = Denied { $name }; their invite is closed.

admin-promoted = { $name } is now an admin.
admin-demoted = { $name } is no longer an admin.
admin-deleted = Deleted message { $seq } for everyone.

admin-set-bad-duration = not a duration: "{ $value }" (e.g. 1h, 7d, off)
admin-set-bad-history = not a number of messages: "{ $value }"
admin-set-bad-let-back = --let-back is `ask` or `auto`, not "{ $value }"
admin-set-what = give --disappear, --history, --let-back, --fallback and/or --no-fallback
admin-set-timer-deletes = A timer of { $duration } deletes at once, from the relay, { $messages } message(s) and { $files } file(s) older than that which it still keeps: members who have not read them yet (or downloaded the files) lose them. What is already on people's devices stays until their own timer ends.
admin-set-fallback-note = kith: { $note }
admin-set-done = Settings changed.

admin-show-stored = kith: could not sync ({ $error }); showing the group as stored
admin-show-admins = admins: { $admins }
admin-show-disappear = disappearing messages: { $duration }
admin-show-disappear-off = disappearing messages: off
admin-show-history = history for newcomers: { $n ->
    [one] last { $n } message
   *[other] last { $n } messages
}
admin-show-history-off = history for newcomers: off
admin-show-relay = relay: { $relay }
admin-show-at-fallback = this client is at the fallback { $at }: { $home } could not be reached
admin-show-fallbacks = fallback relays: { $relays }
admin-show-fallbacks-none = fallback relays: none
admin-show-let-back-auto = members away too long: let back in when they ask
admin-show-let-back-ask = members away too long: an admin decides when they ask
admin-show-retention = the relay keeps ciphertext for: { $duration }
admin-show-board = board entries: { $n }
admin-show-invites = open invites: { $n }

admin-moved = Moved the group from { $from } to { $to }. Every member's client follows at its next sync; the copy at { $from } is deleted once all have.
admin-moved-chunks-lost = { $n } file chunk(s) had already expired at { $from } and could not be copied: those files can no longer be downloaded.
admin-moved-invites-closed = Open invite codes named the old relay and are closed: make new ones.
