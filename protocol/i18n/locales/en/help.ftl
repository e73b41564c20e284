# kith --help: the opening, every command's one line, the options shared by all commands.
# The rest (kith COMMAND --help, and what is wrong with a command line) is at the end.

help-about = The Kith terminal client: end-to-end-encrypted closed groups over a relay you do not have to trust.
help-start =
    Start here (a new member), in this order:
      1. kith init --name "Your Name"                      make your profile (once)
      2. kith join XXXX-XXXX-… --relay wss://relay.example  use the code you were given
      3. kith chat                                         talk (F1 inside shows the keys)
      4. kith send "Group" "text"                          or send from the command line
      5. kith read "Group"                                 and read what is new
    Starting a group instead: kith group create "Group" --relay wss://relay.example, then
    kith invite "Group" for a one-time code for each person.
help-usage = Usage:
help-commands = Commands:
help-options = Options:
help-cmd-init = Make your profile: an identity key and an encrypted local store
help-cmd-whoami = Show your name and fingerprint
help-cmd-group = Create, change, show or move a group
help-cmd-groups = List your groups with unread counts and pending joins
help-cmd-invite = Make a one-time invite code for a group (admins)
help-cmd-join = Use an invite: see who invites you where, ask to join, wait to be admitted
help-cmd-sync = Fetch everything new, and admit joiners (admins)
help-cmd-send = Send a text message (`-` reads it from standard input)
help-cmd-outbox = List the messages waiting to be sent (encrypted on this computer), or drop one
help-cmd-send-file = Send a file (at most 25 MiB, e.g. a scan of papers)
help-cmd-files = List the files shared in a group, numbered for kith get
help-cmd-get = Download a shared file, check it, and save it
help-cmd-read = Print new messages (or all with --all; --follow to keep going)
help-cmd-members = List a group's members: names, fingerprints, roles, verification
help-cmd-remove = Remove a member from a group (admins)
help-cmd-leave = Leave a group
help-cmd-verify = Show the safety number you share with a member; --confirm once you compared it
help-cmd-doctor = Find out why a relay cannot be reached, and what to try
help-cmd-chat = Open the full-screen chat (F1 inside shows the keys)
help-cmd-daemon = Keep the profile open for other kith commands, the chat and programs
help-cmd-passphrase = Change the passphrase, or set a duress passphrase (--duress; --notify to tell your groups first)
help-cmd-wipe = Destroy this profile so that nothing can be recovered from it
help-cmd-board = Show a group's pinned board, or change it (admins)
help-cmd-requests = List the join requests waiting for approval (admins)
help-cmd-approve = Approve a join request (admins)
help-cmd-deny = Deny a join request (admins)
help-cmd-promote = Make a member an admin (admins)
help-cmd-demote = Make an admin a plain member again (admins)
help-cmd-delete = Delete a message for everyone: yours, or anyone's if you are an admin
help-opt-home = Profile directory [env: KITH_HOME; default: ~/.local/share/kith]
help-opt-json = Print records as JSON lines instead of text
help-opt-lang = The language: en or ru [env: KITH_LANG; default: the system's]
help-opt-utc = Show times in UTC, not in your time zone
help-opt-proxy = Reach relays only through this SOCKS5 proxy, e.g. Tor's socks5://127.0.0.1:9050
help-opt-ca = Also trust the CA certificates in this PEM file for wss:// relays
help-opt-allow-plain-ws = Allow unencrypted ws:// to a relay that is neither on this machine nor a Tor .onion
help-opt-passphrase-file = Read the passphrase from the first line of this file (yours alone) instead of asking
help-opt-failover-after = How long a group's relay may stay unreachable before going on at a fallback

## kith COMMAND --help (help.rs): a command's line is help-cmd-PATH, its longer text
## help-long-PATH, its arguments help-arg-PATH-ARG (PATH: the command's words joined by
## "-", e.g. group-create; ARG: the argument's name with "-" for "_"); help-arg-ARG is
## the text for an argument of that name in every command that has no text of its own.
help-arguments = Arguments:
help-default = [default: { $value }]
help-env = [env: { $name }]
help-possible = [possible values: { $values }]
help-flag-help = Print help
help-flag-help-more = Print help (see more with '--help')
help-flag-help-summary = Print help (see a summary with '-h')
help-flag-version = Print version
help-cmd-help = Print this message or the help of the given subcommand(s)
help-cmd-group-create = Create a group on a relay
help-cmd-group-update = Commit fresh keys for yourself in a group now
help-cmd-group-set = Change a group's settings (admins)
help-cmd-group-show = Show a group's admins, settings, relays, board size and open invites
help-cmd-group-move = Move a group to another relay (admins)
help-cmd-board-add = Pin a new entry (`-` as TEXT reads it from standard input)
help-cmd-board-edit = Change an entry's title and/or text
help-cmd-board-rm = Remove an entry
help-long-init = Make a new profile: an identity key and an encrypted local store. The passphrase comes from KITH_PASSPHRASE, else it is asked (twice) without echo
help-long-join = Use an invite: show who invites you where, ask to join, and wait to be admitted
help-long-sync = Fetch everything, process membership changes, admit joiners (admins)
help-long-send-file = Send a file (at most 25 MiB, e.g. a scan of papers): sealed in chunks under a fresh key, the key and checksum inside the group's encryption
help-long-get = Download a file shared in a group, check it, and save it (never a partial file)
help-long-read = Print new messages (or all), as `time name: text`
help-long-verify = Show the safety number you share with a member; --confirm marks them verified once you compared it with them in person or on a call
help-long-doctor = Find out why a relay cannot be reached: checks name resolution, TCP (or the --proxy), TLS, the WebSocket upgrade and Hello, and says which step failed and what to try. Takes a relay URL or invite (no profile needed), or a group (its relay and fallbacks); without one, every relay of the profile's groups
help-long-chat = Open the full-screen chat: groups, conversation, members, live updates (F1 inside for the keys)
help-long-daemon = Keep the profile open for every other `kith` command, the chat and programs (JSON-RPC on a socket in the profile directory, docs/RPC.md). Unlocks once; runs until stopped (Ctrl-C, SIGTERM, `kith daemon --stop`)
help-long-passphrase = Change the passphrase, or set a duress passphrase (--duress). The new one comes from KITH_NEW_PASSPHRASE, else it is asked twice without echo
help-long-board = Show a group's pinned board, or change it (admins): `kith board GROUP`, `kith board add|edit|rm …`
help-long-requests = List the join requests waiting for approval (admins): joiners of `--approve` codes, and members who were away too long and ask to come back
help-long-approve = Approve a join request: the joiner is added, or the member let back in (admins)
help-long-deny = Deny a join request: its invite is closed, or the request to come back refused (admins)
help-long-group-update = Commit fresh keys for yourself in a group now (clients also do this on their own after joining and weekly): heals the group after a suspected compromise
help-long-group-move = Move a group to another relay (admins): every member's client follows on its own at its next sync, nothing is lost, and the copy on the old relay is deleted once every member has moved. Open invite codes are closed (they name the old relay): make new ones
help-arg-group = The group
help-arg-init-name = Your display name, as group members will see it
help-arg-invite-group = The group: its name or an id prefix
help-arg-invite-expires = How long the code stays valid (e.g. 30m, 72h, 7d; at most 30d)
help-arg-invite-approve = The code does not admit by itself: admins see the joiner's name and fingerprint (`kith requests`) and approve or deny
help-arg-join-invite = The invite (kith://host/CODE or kith+ws://host:port/CODE), or the code alone (seven groups of four letters and digits) with --relay
help-arg-join-relay = The relay, when the invite is the code alone: wss://host[:port] (or ws://…). [default: `relay` in the settings file]
help-arg-join-wait = Seconds to wait for an admin to admit you (0: return at once; `kith sync` finishes the join later)
help-arg-sync-group = Only this group
help-arg-send-text = The text, or `-`
help-arg-send-file-path = The file
help-arg-get-file = The file: its number in `kith files`, or its name if unique
help-arg-get-output = Where to save it: a file name, or a directory to save it in under its own name. [default: its name, in the current directory]
help-arg-get-force = Replace an existing file
help-arg-read-all = All messages, not only the unread ones
help-arg-read-follow = Keep running and print messages as they arrive
help-arg-remove-member = The member: a name or a fingerprint prefix
help-arg-remove-hide = Also hide every message the member sent, for everyone
help-arg-verify-member = The member
help-arg-verify-confirm = The numbers matched: mark the member verified
help-arg-doctor-target = A relay URL (wss://…), an invite (kith://…), or a group
help-arg-chat-group = The group to open first (its name or an id prefix)
help-arg-daemon-stop = Ask the running daemon to stop: it finishes what it is doing and closes the profile
help-arg-passphrase-duress = Set a second passphrase for when you are forced to unlock: unlocking with it destroys this profile beyond recovery and opens an empty one of the same name, which looks like a new profile
help-arg-passphrase-notify = With --duress: also let the duress unlock leave your groups and tell the admins (off by default; see SECURITY.md)
help-arg-wipe-yes = Do not ask for confirmation
help-arg-wipe-leave = First leave every group (needs the passphrase; at most 10 s in all), so that the others do not keep listing you
help-arg-board-group = The group whose board to show
help-arg-approve-request = The request: its number in `kith requests`, a name or a fingerprint prefix
help-arg-deny-request = The request: its number in `kith requests`, a name or a fingerprint prefix
help-arg-promote-member = The member: a name or a fingerprint prefix
help-arg-demote-member = The admin: a name or a fingerprint prefix
help-arg-delete-seq = The message's number (`seq` in `kith read --all --json`)
help-arg-outbox-drop = Drop message N from the outbox instead (its number in the list)
help-arg-group-create-name = The group's name (only members ever see it)
help-arg-group-create-relay = The relay: wss://host[:port], or ws://host:port on this machine or a .onion host (any other ws:// needs --allow-plain-ws). [default: `relay` in the settings file]
help-arg-group-create-yes = Create it even if you have a group of that name already (without this, kith asks first, and a script is refused)
help-arg-group-set-disappear = Messages disappear this long after they were sent (e.g. 1h, 7d), or `off`
help-arg-group-set-history = Newcomers receive this many recent messages on joining, or `off`
help-arg-group-set-let-back = A member who was away longer than the group keeps messages and asks to come back: `ask` an admin first (the default), or let them back in `auto`matically
help-arg-group-set-fallback = Add a fallback relay, where the group can go on if its own is lost (admins; repeatable; at most 4)
help-arg-group-set-no-fallback = Remove a fallback relay (repeatable)
help-arg-group-set-yes = Do not ask before a timer that deletes messages the relay still keeps
help-arg-group-move-to = The new relay: wss://host[:port], or ws://host:port on this machine or a .onion host
help-arg-board-add-title = The entry's title
help-arg-board-add-text = The entry's text (contacts, an address, a template), or `-`
help-arg-board-edit-id = The entry's number, as `kith board` shows it
help-arg-board-edit-title = A new title
help-arg-board-edit-text = A new text, or `-` to read it from standard input
help-arg-board-rm-id = The entry's number

## A command line kith cannot read (help.rs: explain): what is wrong, and where to look.
help-lang-known = kith speaks { $langs }
help-error-unknown-option = Unknown option { $arg }
help-error-extra = Unexpected "{ $arg }" (put a text with spaces in quotes)
help-error-unknown-command = Unknown command "{ $arg }"
help-error-similar = Did you mean { $suggestions }?
help-error-missing = { $n ->
    [one] Missing: { $args }
   *[other] Missing: { $args }
}
help-error-bad-value = Invalid value "{ $value }" for { $arg }
help-error-possible = Possible values: { $values }
help-error-too-many = Too many values for { $arg }
help-error-conflict = { $arg } cannot be used with { $other }
help-error-no-command = { $command } needs a command
help-error-no-value = { $arg } needs a value
help-error-other = The command line is wrong:
help-error-more = More: { $command } --help

## The placeholders of usage lines (help.rs: help-value-NAME, NAME in small letters,
## "-" for other signs; optional: clap's English name otherwise).
help-value-command = COMMAND
help-value-group = GROUP
help-value-text = TEXT
help-value-name = NAME
help-value-path = PATH
help-value-file = FILE
help-value-dir = DIR
help-value-url = URL
help-value-relay = RELAY
help-value-expires = EXPIRES
help-value-wait = WAIT
help-value-invite = INVITE
help-value-member = MEMBER
help-value-target = TARGET
help-value-request = REQUEST
help-value-seq = SEQ
help-value-title = TITLE
help-value-id = ID
help-value-duration = DURATION
help-value-lang = LANG
help-value-duration-off = DURATION|off
