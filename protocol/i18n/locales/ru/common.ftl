# Слова для всех частей Kith: числа, промежутки времени, размеры.
# Переводчику: сохраняйте каждый id и каждую { $переменную }, меняйте всё остальное.

count-members = { $n ->
    [one] { $n } участник
    [few] { $n } участника
   *[many] { $n } участников
}
count-unread = непрочитанных: { $n }
count-pending-joins = { $n ->
    [one] { $n } заявка на вступление
    [few] { $n } заявки на вступление
   *[many] { $n } заявок на вступление
}
count-new = { $n ->
    [one] { $n } новое
    [few] { $n } новых
   *[many] { $n } новых
}

duration-days = { $n ->
    [one] { $n } день
    [few] { $n } дня
   *[many] { $n } дней
}
duration-hours = { $n ->
    [one] { $n } час
    [few] { $n } часа
   *[many] { $n } часов
}
duration-minutes = { $n ->
    [one] { $n } минута
    [few] { $n } минуты
   *[many] { $n } минут
}
duration-seconds = { $n ->
    [one] { $n } секунда
    [few] { $n } секунды
   *[many] { $n } секунд
}

size-bytes = { $n } Б
size-kib = { $n } КиБ
size-mib = { $n } МиБ
size-gib = { $n } ГиБ
size-tib = { $n } ТиБ
