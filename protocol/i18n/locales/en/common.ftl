# Words every face uses: counts, spans of time, sizes.
# A translator: keep each id and each { $variable }; change everything else.

count-members = { $n ->
    [one] { $n } member
   *[other] { $n } members
}
count-unread = { $n } unread
count-pending-joins = { $n ->
    [one] { $n } pending join
   *[other] { $n } pending joins
}
count-new = { $n } new

duration-days = { $n ->
    [one] { $n } day
   *[other] { $n } days
}
duration-hours = { $n ->
    [one] { $n } hour
   *[other] { $n } hours
}
duration-minutes = { $n ->
    [one] { $n } minute
   *[other] { $n } minutes
}
duration-seconds = { $n ->
    [one] { $n } second
   *[other] { $n } seconds
}

size-bytes = { $n } B
size-kib = { $n } KiB
size-mib = { $n } MiB
size-gib = { $n } GiB
size-tib = { $n } TiB
