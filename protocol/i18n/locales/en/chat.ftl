# The full-screen chat (kith chat): its bars, panes, keys, commands' answers and boxes.
# A translator: keep each id and each { $variable }; change everything else. Commands
# (/invite …) and the words typed after them (approve, hide, off) stay as typed. The
# screen may be only 80 columns wide: keep the help's rows and the boxes' lines short.

## Starting and ending

chat-not-a-terminal = kith chat needs a terminal; use `kith read --follow` and `kith send` in scripts
chat-terminal-failed = terminal: { $error }
chat-daemon-event-unknown = the daemon sent an event this chat does not understand ({ $error }); are the daemon and this kith the same version?
chat-daemon-gone = the daemon went away: { $error }
chat-screen-crashed = the chat screen crashed
chat-engine-stopped = the engine stopped
chat-unsent-in-daemon = kith: { $n } message(s) wait in the daemon's outbox: it sends them once the relay takes them (see `kith read GROUP --all` later).
chat-unsent-lost = { $n ->
    [one] kith: { $n } message failed to send and was dropped when the chat closed; type it again.
   *[other] kith: { $n } messages failed to send and were dropped when the chat closed; type them again.
}
chat-unsent-kept = { $n ->
    [one] kith: { $n } message waits in the outbox (encrypted, on this computer). It goes out with the next `kith send`, `kith sync` or chat; `kith outbox` lists it.
   *[other] kith: { $n } messages wait in the outbox (encrypted, on this computer). They go out with the next `kith send`, `kith sync` or chat; `kith outbox` lists them.
}
chat-too-small = Too small for kith chat: enlarge the terminal.

## The top bar

chat-conn-connected = connected
chat-conn-connecting = connecting…
chat-conn-reconnecting = reconnecting…
chat-conn-reconnecting-in = reconnecting in { $s }s
chat-conn-offline = offline · retry in { $s }s (^R now)
chat-conn-idle = idle (no groups)
chat-other-relays-down = { $n ->
    [one] { $n } other relay down
   *[other] { $n } other relays down
}
chat-on-hold-mark = ON HOLD
chat-facts-history = history { $n }
chat-facts-requests = { $n ->
    [one] { $n } join request
   *[other] { $n } join requests
}
# A group one can no longer write to: in the top bar and the group list.
chat-group-status = { $status ->
    [removed] removed
    [left] left
   *[other] { $status }
}

## The panes

chat-groups-title = Groups
chat-joining = joining…
chat-none-yet = (none yet)
chat-members-title = Members ({ $n })
chat-you = (you)
chat-role = { $role ->
    [admin] admin
   *[other] member
}
chat-member-verified = verified
chat-member-not-verified = NOT verified
chat-not-a-member-pane = (not a member)
chat-verify-hint = /verify NAME to check
chat-requests-count = { $n } join request(s):
chat-requests-hint = /requests to decide

## The conversation

# The day separator: the day of the week, the date, and the zone the times are in.
chat-day = { $weekday ->
    [mon] Monday
    [tue] Tuesday
    [wed] Wednesday
    [thu] Thursday
    [fri] Friday
    [sat] Saturday
   *[sun] Sunday
} { $date } ({ $zone })
chat-notice-by = (by { $name })
chat-file-mark = [file]
chat-deleted-by = message deleted by { $name }
chat-history-via = · history via { $name }
chat-out-queued = [queued: offline]
chat-out-held = [held: the group is on hold · /discard drops]
chat-out-sending = [sending…]
chat-out-failed = [NOT SENT: { $why } · Ctrl-R retries, /discard drops]
chat-no-groups = No groups yet.
chat-no-groups-create = Create one:  kith group create NAME --relay URL
chat-no-groups-join = or join one: kith join INVITE
chat-no-groups-then = then open the chat again. F1 shows the keys, Ctrl-C quits.
chat-no-messages = No messages yet. Say something below.
chat-loading = Loading…
chat-more-below = ↓ { $n } more row(s) below · Esc or Ctrl-End: latest
chat-times-in = Times are { $zone }.

## The input and the bottom line

chat-search-title = Search (Enter/↑ older · ↓ newer · Esc close)
chat-on-hold-title = ON HOLD: nothing is sent until an admin's client repairs the group
chat-message-to = Message to { $group }
chat-removed-title = You were removed from this group: you can read, not write
chat-left-title = You left this group
chat-no-group-title = No group
chat-input-hint = Type a message; Enter sends, Alt-Enter adds a line, /help lists commands
chat-input-hint-read-only = /help lists commands; Tab opens another group
chat-hints = F1 help · ^C quit · Tab next group · PgUp/PgDn scroll · ^F search · F2 members
chat-search-empty = Search: type to find in this conversation
chat-search-none = Search: no match
chat-search-match = Search: match { $n } of { $total }

## Help (F1): rows that start with a space are the entries, the others headings.

chat-help-title = Help · any key closes
chat-help =
    Keys
      Enter send · Alt-Enter, Ctrl-J new line · Up/Down rows, then history
      Ctrl-A/E, Ctrl-←/→ move · Ctrl-U/K/W delete to start / end / word
      Tab, Shift-Tab next / previous group (also Ctrl-N/P, Alt-1…9)
      PgUp/PgDn scroll · Shift-↑/↓ one row · Esc latest · Ctrl-F search
      F2 members · F3 message numbers · Ctrl-R retry, reconnect · Ctrl-C quit
    Commands (* admins only)
      /board  the pinned board (↑/↓ scroll, Esc closes)
      /board add TITLE | TEXT *  /board edit ID TITLE | TEXT *  /board rm ID *
      /invite [72h] [{ $approve }] *  one-time code; { $approve }: an admin lets them in
      /requests  join requests   /approve N|NAME *   /deny N|NAME *
      /promote NAME *  /demote NAME *  /remove NAME [{ $hide }] * (and their posts)
      /delete [N]  your last message, or number N (F3); admins: anyone's
      /disappear 7d|off *   /history N|off * (last N messages for newcomers)
      /file PATH  /files  /get N [DIR|PATH]  files ≤ 25 MiB · //x sends /x
      /verify NAME /members /relays /leave /retry /discard /quit /invites
    Marks
      Name? unverified  * notice  ! warning  @ admin  ◷ disappears  ○ offline
      +N join requests  [sending…] [queued: offline] [held] [NOT SENT]

## Boxes

chat-invite-title = Invite
chat-invite-code = A one-time code for { $group }, valid for { $valid }:
chat-invite-pass = Pass it on in person or by phone, never in a group chat.
chat-invite-approval =
    It works once and needs an admin's approval: their request shows
    under /requests; compare the fingerprint, then /approve N.
chat-invite-direct = It works once; an admin's client admits the joiner.
chat-requests-title = Join requests · any key closes
chat-requests-admins-only = Only admins see and decide join requests.
chat-requests-none = No join requests.
chat-requests-none-hint = /invite approve makes an invite that waits for an admin.
chat-request-invited = invited by { $name }, asked { $time }
chat-request-comes-back = was away too long, asks to come back, asked { $time }
chat-requests-compare = Compare the fingerprint with the person (in person or by phone),
chat-requests-decide = then /approve N or /deny N.
chat-confirm-keys = y: { $yes } · any other key: cancel
chat-verify-title = Verify
chat-verify-number = Safety number with { $name }:
chat-verify-compare = Compare it with { $name } in person or on a call: they see the same.
chat-verify-keys = y: it matches (mark verified) · n: it differs · Esc: later
chat-verify-differs = The numbers differ: do not trust { $name } until you know why (someone may be posing as them).
chat-leave-title = Leave
chat-leave-question = Leave { $name }?
chat-leave-effect = You will not be able to read it again; an admin must invite you back.
chat-yes-leave = leave
chat-quit-title = Quit
chat-quit-unsent = { $n ->
    [one] { $n } message failed to send and will be lost (Ctrl-R tries it again).
   *[other] { $n } messages failed to send and will be lost (Ctrl-R tries them again).
}
chat-quit-keys = y or Ctrl-C: quit anyway · any other key: stay
chat-board-title = Board · { $group }
chat-board-empty = The board is empty.
chat-board-empty-hint = Pin contacts, addresses or templates: /board add TITLE | TEXT
chat-board-by = — { $name }, { $time }
chat-board-scroll = ↑/↓ PgUp/PgDn scroll ({ $n } rows below)
chat-board-close = Esc closes

## What commands answer

chat-not-sent = Not sent: { $why } (Ctrl-R retries)
chat-reconnecting-now = Reconnecting now…
chat-retrying = Retrying { $n } message(s)…
chat-nothing-to-retry = Nothing to retry.
chat-nowhere-to-send = No group is open: there is nowhere to send.
chat-not-a-member = You are not a member of this group any more.
chat-too-long = Too long to send: { $over ->
    [one] { $over } character
   *[other] { $over } characters
} too many (of { $total }). Nothing was lost: shorten it.
chat-open-a-group = Open a group you are a member of first (Tab switches).
chat-discarded = Discarded { $n } unsent message(s).
chat-usage-file = Usage: /file PATH (at most 25 MiB)
chat-sending-file = Sending { $path }…
# A relay's connection, as /relays tells it.
chat-relay-state = { $state ->
    [connected] connected
    [connecting] connecting
    [reconnecting] reconnecting
    [offline] offline
   *[idle] idle
}
chat-relays = Relay: { $home } ({ $state }). Fallback relays: { $fallbacks }.
chat-relays-away = Relay: { $home } (not reachable). { $home } cannot be reached: you are at the fallback { $at } ({ $state }). Fallback relays: { $fallbacks }.
chat-relays-none = none
chat-usage-get = Usage: /get N [DIR|PATH] (/files lists them)
chat-downloading = Downloading { $file }…
chat-making-invite = Making an invite…
chat-usage-remove = Usage: /remove NAME [{ $hide }]
chat-remove-title = Remove
chat-remove-question = Remove { $name } from this group?
chat-remove-effect = They will not be able to read anything sent after this.
chat-remove-hide = Every message { $name } sent is also deleted, for everyone.
chat-yes-remove = remove
chat-removing = Removing { $name }…
chat-usage-name = Usage: /{ $command } NAME
chat-promoting = Making { $name } an admin…
chat-demoting = Making { $name } a member again…
chat-usage-request = Usage: /{ $command } N|NAME (/requests lists them)
chat-approving = Approving { $request }…
chat-denying = Denying { $request }…
chat-changing-settings = Changing the group's settings…
chat-usage-verify = Usage: /verify NAME
chat-unknown-command = Unknown command /{ $command }. /help lists them; //text sends "/text".
# What only an admin may do, by what was tried.
chat-admins-only = Only admins can { $action ->
    [invite] invite
    [remove] remove members
    [settings] change the group's settings
    [board] edit the board
    [admins] change who the admins are
    [requests] decide join requests
   *[delete] delete other members' messages
}. The member list (F2) shows who they are.
chat-numbers-shown = Message numbers shown (#N): /delete N deletes one; F3 hides them.
chat-setting-unknown = Not known yet.
chat-disappear-off = Messages do not disappear (admins: /disappear 7d).
chat-disappear-on = Messages disappear { $after } after they are sent (admins: /disappear off).
chat-history-off = Newcomers receive no earlier messages (admins: /history 50).
chat-history-on = Newcomers receive the last { $n } messages (admins: /history off).
chat-no-group-open = No group is open.
chat-pinning = Pinning { $title }…
chat-no-board-entry = There is no board entry [{ $id }] (/board lists them).
chat-editing-entry = Editing [{ $id }]…
chat-board-confirm-title = Board
chat-board-remove-question = Remove [{ $id }] { $title } from the board, for everyone?
chat-yes-remove-it = remove it
chat-board-removing = Removing [{ $id }] from the board…
chat-delete-loading = The conversation is still loading.
chat-delete-none-own = You have no message here to delete.
chat-usage-delete = Usage: /delete (your last message) or /delete N (F3 shows the numbers)
chat-delete-no-such = There is no message #{ $seq } that can be deleted (F3 shows the numbers).
chat-delete-title = Delete
chat-delete-own-question = Delete your message #{ $seq } for everyone?
chat-delete-other-question = Delete { $name }'s message #{ $seq } for everyone?
chat-delete-unknown-question = Delete a member's message #{ $seq } for everyone?
# A message's beginning, quoted.
chat-quoted = "{ $text }"
chat-delete-effect = Every member's client replaces it with "message deleted".
chat-yes-delete = delete
chat-deleting = Deleting message #{ $seq }…
chat-usage-board-add = Usage: /board add TITLE | TEXT (the text may span lines: Alt-Enter)
chat-usage-board-edit = Usage: /board edit ID TITLE | TEXT (leave a side empty to keep it)
chat-usage-board-rm = Usage: /board rm ID (the number in brackets on /board)
chat-board-unknown = Unknown /board { $sub }: /board, /board add TITLE | TEXT, /board edit ID TITLE | TEXT, /board rm ID
chat-invite-not-duration = Not a duration: "{ $word }". Usage: /invite [72h] [approve] (try 30m, 72h, 7d)
chat-disappear-not-duration = Not a duration: "{ $arg }". Usage: /disappear 30m|12h|7d|2w|off
chat-history-not-number = Not a number of messages: "{ $arg }". Usage: /history 50|off

## chat-polish: the invite box, status lines, invite notices in a row

chat-invite-by-voice = By voice or by hand: the code { $code }, on the relay { $relay }.
chat-invite-keys = c: copy it to the clipboard · /invites shows it again · any other key closes
chat-invite-copied = The invite was handed to the terminal's clipboard (if your terminal allows it); you can also select it with the mouse.
chat-invites-none = No invite was made for this group since the chat started: /invite makes one.
chat-invites-expired = The last invite made for this group has expired: /invite makes a new one.
chat-invites-closed = The last invite made for this group was used or closed: /invite makes a new one.
# "You" in a list of who did something ("Olena, you").
chat-grouped-you = you
# Invite notices that come in a row, told as one line ($n is 2 or more). $actor: you (all
# made by you), other (all by $by), many ($by lists them); $approval: yes or no.
chat-grouped-invites-made = { $actor ->
    [you] { $approval ->
        [yes] You made { $n } invites that need an admin's approval
       *[no] You made { $n } invites
    }
    [other] { $approval ->
        [yes] { $by } made { $n } invites that need an admin's approval
       *[no] { $by } made { $n } invites
    }
   *[many] { $approval ->
        [yes] { $n } invites that need an admin's approval made by { $by }
       *[no] { $n } invites made by { $by }
    }
}
chat-grouped-joined = { $n ->
    [one] { $n } new member joined by invite
   *[other] { $n } new members joined by invite
}: { $list } (added by { $by })
chat-grouped-asks = { $n ->
    [one] { $n } person asks to join
   *[other] { $n } people ask to join
}: { $list }. /requests to see them, /approve or /deny to decide.
