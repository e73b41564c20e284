# Полноэкранный чат (kith chat): строки, панели, клавиши, ответы на команды и окна.
# Переводчику: сохраняйте каждый id и каждую { $переменную }, меняйте всё остальное.
# Команды (/invite …) и слова, которые набирают после них (approve, hide, off), остаются
# как есть. Экран может быть шириной всего 80 символов: строки справки и окон — короткие.

## Запуск и завершение

chat-not-a-terminal = kith chat работает только в терминале; в скриптах используйте `kith read --follow` и `kith send`
chat-terminal-failed = терминал: { $error }
chat-daemon-event-unknown = фоновый процесс прислал событие, которое этот чат не понимает ({ $error }); совпадают ли версии фонового процесса и этой программы kith?
chat-daemon-gone = связь с фоновым процессом потеряна: { $error }
chat-screen-crashed = экран чата завершился с ошибкой
chat-engine-stopped = ядро программы остановилось
chat-unsent-in-daemon = { $n ->
    [one] kith: { $n } сообщение ждёт в очереди фонового процесса: он отправит его, когда сервер его примет (позже проверьте: `kith read ГРУППА --all`).
    [few] kith: { $n } сообщения ждут в очереди фонового процесса: он отправит их, когда сервер их примет (позже проверьте: `kith read ГРУППА --all`).
   *[many] kith: { $n } сообщений ждут в очереди фонового процесса: он отправит их, когда сервер их примет (позже проверьте: `kith read ГРУППА --all`).
}
chat-unsent-lost = { $n ->
    [one] kith: { $n } сообщение не удалось отправить, и с закрытием чата оно пропало; напишите его заново.
    [few] kith: { $n } сообщения не удалось отправить, и с закрытием чата они пропали; напишите их заново.
   *[many] kith: { $n } сообщений не удалось отправить, и с закрытием чата они пропали; напишите их заново.
}
chat-unsent-kept = { $n ->
    [one] kith: { $n } сообщение ждёт в очереди на отправку (зашифровано, на этом компьютере). Оно уйдёт при следующем `kith send`, `kith sync` или в чате; список: `kith outbox`.
    [few] kith: { $n } сообщения ждут в очереди на отправку (зашифрованы, на этом компьютере). Они уйдут при следующем `kith send`, `kith sync` или в чате; список: `kith outbox`.
   *[many] kith: { $n } сообщений ждут в очереди на отправку (зашифрованы, на этом компьютере). Они уйдут при следующем `kith send`, `kith sync` или в чате; список: `kith outbox`.
}
chat-too-small = Окно слишком маленькое для kith chat: увеличьте терминал.

## Верхняя строка

chat-conn-connected = на связи
chat-conn-connecting = подключение…
chat-conn-reconnecting = переподключение…
chat-conn-reconnecting-in = переподключение через { $s } с
chat-conn-offline = нет связи · повтор через { $s } с (Ctrl + R — сейчас)
chat-conn-idle = ожидание (групп нет)
chat-other-relays-down = { $n ->
    [one] ещё { $n } сервер недоступен
    [few] ещё { $n } сервера недоступны
   *[many] ещё { $n } серверов недоступны
}
chat-on-hold-mark = ПРИОСТАНОВЛЕНА
chat-facts-history = история: { $n }
chat-facts-requests = { $n ->
    [one] { $n } заявка на вступление
    [few] { $n } заявки на вступление
   *[many] { $n } заявок на вступление
}
# Группа, в которую больше нельзя писать: в верхней строке и в списке групп.
chat-group-status = { $status ->
    [removed] вас исключили
    [left] вы вышли
   *[other] { $status }
}

## Панели

chat-groups-title = Группы
chat-joining = ждёт приёма…
chat-none-yet = (пока нет)
chat-members-title = Участники ({ $n })
chat-you = (вы)
chat-role = { $role ->
    [admin] админ
   *[other] участник
}
chat-member-verified = проверен
chat-member-not-verified = НЕ проверен
chat-not-a-member-pane = (вы не участник)
chat-verify-hint = /verify ИМЯ — проверить
chat-requests-count = Заявок на вступление: { $n }
chat-requests-hint = /requests — решить

## Переписка

# Разделитель дней: день недели, дата и часовой пояс, в котором показано время.
chat-day = { $weekday ->
    [mon] Понедельник
    [tue] Вторник
    [wed] Среда
    [thu] Четверг
    [fri] Пятница
    [sat] Суббота
   *[sun] Воскресенье
}, { $date } ({ $zone })
chat-notice-by = (автор: { $name })
chat-file-mark = [файл]
chat-deleted-by = сообщение удалено участником { $name }
chat-history-via = · из истории группы (через участника { $name })
chat-out-queued = [в очереди: нет связи]
chat-out-held = [задержано: группа приостановлена · /discard — удалить]
chat-out-sending = [отправляется…]
chat-out-failed = [НЕ ОТПРАВЛЕНО: { $why } · Ctrl + R — повторить, /discard — удалить]
chat-no-groups = Групп пока нет.
chat-no-groups-create = Создать группу:        kith group create ИМЯ --relay АДРЕС
chat-no-groups-join = или вступить в группу: kith join КОД
chat-no-groups-then = Потом снова откройте чат. F1 — клавиши, Ctrl + C — выход.
chat-no-messages = Сообщений пока нет. Напишите первое внизу.
chat-loading = Загрузка…
chat-more-below = ↓ ниже ещё строк: { $n } · Esc или Ctrl + End — к последним
chat-times-in = Время: { $zone }.

## Строка ввода и нижняя строка

chat-search-title = Поиск (Enter/↑ — раньше · ↓ — позже · Esc — закрыть)
chat-on-hold-title = ПРИОСТАНОВЛЕНА: ничего не отправляется, пока программа администратора не восстановит группу
chat-message-to = Сообщение в группу «{ $group }»
chat-removed-title = Вас исключили из этой группы: читать можно, писать нельзя
chat-left-title = Вы вышли из этой группы
chat-no-group-title = Группа не выбрана
chat-input-hint = Напишите сообщение; Enter — отправить, Alt + Enter — новая строка, /help — команды
chat-input-hint-read-only = /help — список команд; Tab — другая группа
chat-hints = F1 справка · Ctrl + C выход · Tab группы · PgUp / PgDn прокрутка · F2 участники
chat-search-empty = Поиск: введите текст, чтобы найти его в переписке
chat-search-none = Поиск: ничего не найдено
chat-search-match = Поиск: совпадение { $n } из { $total }

## Справка (F1): строки с пробелом в начале — пункты, остальные — заголовки.

chat-help-title = Справка · любая клавиша закрывает
chat-help =
    Клавиши
      Enter отправить · Alt + Enter новая строка · ↑ ↓ строки, затем прежнее
      Ctrl + A / E начало / конец строки · Ctrl + W стереть слово
      Tab следующая группа · Ctrl + N / P следующая / предыдущая · Alt + 1…9
      PgUp / PgDn прокрутка · Esc к последним · Ctrl + F поиск
      F2 участники · F3 номера сообщений · Ctrl + R повторить · Ctrl + C выход
    Команды (* только для администраторов)
      /board  доска (↑ ↓ прокрутка, Esc закрывает)  /board rm НОМЕР *
      /board add ЗАГОЛОВОК | ТЕКСТ *  /board edit НОМЕР ЗАГОЛОВОК | ТЕКСТ *
      /invite [72h] [{ $approve }] *  одноразовый код ({ $approve }: впускает админ)
      /requests  заявки на вступление   /approve N|ИМЯ *   /deny N|ИМЯ *
      /promote ИМЯ *  /demote ИМЯ *  /remove ИМЯ [{ $hide }] * (с сообщениями)
      /delete [N]  ваше последнее сообщение или номер N (F3); админ: любое
      /disappear 7d|off *   /history N|off * (N прежних сообщений новичкам)
      /file ПУТЬ  /files  /get N [ПАПКА|ПУТЬ]  до 25 МиБ · //x отправит /x
      /verify ИМЯ /members /relays /leave /retry /discard /quit /invites
    Значки
      Имя? не проверен  * уведомление  ! важно  @ админ  ◷ исчезнет  +N заявки
      ○ нет связи  [отправляется…] [в очереди] [задержано] [НЕ ОТПРАВЛЕНО]

## Окна

chat-invite-title = Приглашение
chat-invite-code = Одноразовый код для группы «{ $group }» (срок действия: { $valid }):
chat-invite-pass = Передайте его лично или по телефону, но не в групповом чате.
chat-invite-approval =
    Код сработает один раз, и нужно одобрение администратора: заявка
    появится в /requests; сверьте отпечаток, затем /approve N.
chat-invite-direct = Код сработает один раз; программа администратора примет вступающего.
chat-requests-title = Заявки на вступление · любая клавиша закрывает
chat-requests-admins-only = Заявки на вступление видят и решают только администраторы.
chat-requests-none = Заявок на вступление нет.
chat-requests-none-hint = /invite approve создаёт приглашение, которое ждёт одобрения администратора.
chat-request-invited = приглашение от { $name }, заявка подана { $time }
chat-request-comes-back = давно не на связи, просит вернуть в группу; заявка подана { $time }
chat-requests-compare = Сверьте отпечаток с этим человеком (лично или по телефону),
chat-requests-decide = затем /approve N или /deny N.
chat-confirm-keys = y — { $yes } · любая другая клавиша — отмена
chat-verify-title = Проверка
chat-verify-number = Код безопасности (вы и { $name }):
chat-verify-compare = Сверьте его с участником { $name } лично или по телефону: код должен совпасть.
chat-verify-keys = y — совпадает (отметить: проверен) · n — не совпадает · Esc — позже
chat-verify-differs = Коды не совпадают: не доверяйте участнику { $name }, пока не выясните причину (возможно, кто-то выдаёт себя за этого человека).
chat-leave-title = Выход из группы
chat-leave-question = Выйти из группы «{ $name }»?
chat-leave-effect = Читать её вы больше не сможете; вернуться можно только по новому приглашению администратора.
chat-yes-leave = выйти
chat-quit-title = Выход
chat-quit-unsent = { $n ->
    [one] { $n } сообщение не удалось отправить, и оно пропадёт (Ctrl-R — попробовать ещё раз).
    [few] { $n } сообщения не удалось отправить, и они пропадут (Ctrl-R — попробовать ещё раз).
   *[many] { $n } сообщений не удалось отправить, и они пропадут (Ctrl-R — попробовать ещё раз).
}
chat-quit-keys = y или Ctrl + C — всё равно выйти · любая другая клавиша — остаться
chat-board-title = Доска · { $group }
chat-board-empty = На доске пока ничего нет.
chat-board-empty-hint = Закрепите контакты, адреса или шаблоны: /board add ЗАГОЛОВОК | ТЕКСТ
chat-board-by = — { $name }, { $time }
chat-board-scroll = ↑ ↓ PgUp / PgDn — прокрутка (ниже ещё строк: { $n })
chat-board-close = Esc — закрыть

## Ответы на команды

chat-not-sent = Не отправлено: { $why } (Ctrl + R — повторить)
chat-reconnecting-now = Подключаемся заново…
chat-retrying = { $n ->
    [one] Отправляем ещё раз { $n } сообщение…
    [few] Отправляем ещё раз { $n } сообщения…
   *[many] Отправляем ещё раз { $n } сообщений…
}
chat-nothing-to-retry = Повторять нечего.
chat-nowhere-to-send = Группа не открыта: отправлять некуда.
chat-not-a-member = Вы больше не участник этой группы.
chat-too-long = Слишком длинное сообщение: лишних символов — { $over } (всего { $total }). Ничего не потеряно: сократите его.
chat-open-a-group = Сначала откройте группу, в которой вы участник (Tab — переключить).
chat-discarded = Удалено неотправленных сообщений: { $n }.
chat-usage-file = Использование: /file ПУТЬ (не больше 25 МиБ)
chat-sending-file = Отправляем { $path }…
# Связь с сервером, как её описывает /relays.
chat-relay-state = { $state ->
    [connected] на связи
    [connecting] подключение
    [reconnecting] переподключение
    [offline] нет связи
   *[idle] ожидание
}
chat-relays = Сервер: { $home } ({ $state }). Запасные серверы: { $fallbacks }.
chat-relays-away = Сервер: { $home } (недоступен). Сервер { $home } недоступен: вы на запасном сервере { $at } ({ $state }). Запасные серверы: { $fallbacks }.
chat-relays-none = нет
chat-usage-get = Использование: /get N [ПАПКА|ПУТЬ] (список файлов: /files)
chat-downloading = Скачиваем { $file }…
chat-making-invite = Создаём приглашение…
chat-usage-remove = Использование: /remove ИМЯ [{ $hide }]
chat-remove-title = Исключение
chat-remove-question = Исключить участника { $name } из группы?
chat-remove-effect = Участник не сможет прочитать ничего, что будет отправлено после этого.
chat-remove-hide = Все сообщения участника { $name } тоже будут удалены — у всех.
chat-yes-remove = исключить
chat-removing = Исключаем участника { $name }…
chat-usage-name = Использование: /{ $command } ИМЯ
chat-promoting = Назначаем участника { $name } администратором…
chat-demoting = Снимаем с участника { $name } права администратора…
chat-usage-request = Использование: /{ $command } N|ИМЯ (список заявок: /requests)
chat-approving = Одобряем заявку { $request }…
chat-denying = Отклоняем заявку { $request }…
chat-changing-settings = Меняем настройки группы…
chat-usage-verify = Использование: /verify ИМЯ
chat-unknown-command = Неизвестная команда /{ $command }. Список команд: /help; //текст отправит «/текст».
# Что может только администратор, по тому, что пытались сделать.
chat-admins-only = Только администраторы могут { $action ->
    [invite] приглашать
    [remove] исключать участников
    [settings] менять настройки группы
    [board] менять доску
    [admins] назначать администраторов и снимать их права
    [requests] решать, кого принять в группу
   *[delete] удалять чужие сообщения
}. Кто администратор, видно в списке участников (F2).
chat-numbers-shown = Номера сообщений показаны (#N): /delete N удаляет сообщение; F3 скрывает номера.
chat-setting-unknown = Пока неизвестно.
chat-disappear-off = Сообщения не исчезают (администраторы: /disappear 7d).
chat-disappear-on = Сообщения исчезают после отправки, срок: { $after } (администраторы: /disappear off).
chat-history-off = Новые участники не получают прежних сообщений (администраторы: /history 50).
chat-history-on = { $n ->
    [1] Новые участники получают последнее сообщение (администраторы: /history off).
    [one] Новые участники получают последние { $n } сообщение (администраторы: /history off).
    [few] Новые участники получают последние { $n } сообщения (администраторы: /history off).
   *[many] Новые участники получают последние { $n } сообщений (администраторы: /history off).
}
chat-no-group-open = Группа не открыта.
chat-pinning = Закрепляем «{ $title }»…
chat-no-board-entry = На доске нет записи [{ $id }] (список: /board).
chat-editing-entry = Меняем запись [{ $id }]…
chat-board-confirm-title = Доска
chat-board-remove-question = Убрать запись [{ $id }] «{ $title }» с доски — у всех?
chat-yes-remove-it = убрать
chat-board-removing = Убираем запись [{ $id }] с доски…
chat-delete-loading = Переписка ещё загружается.
chat-delete-none-own = Здесь нет ваших сообщений, которые можно удалить.
chat-usage-delete = Использование: /delete (ваше последнее сообщение) или /delete N (номера показывает F3)
chat-delete-no-such = Нет сообщения #{ $seq }, которое можно удалить (номера показывает F3).
chat-delete-title = Удаление
chat-delete-own-question = Удалить ваше сообщение #{ $seq } у всех?
chat-delete-other-question = Удалить сообщение #{ $seq } участника { $name } у всех?
chat-delete-unknown-question = Удалить сообщение #{ $seq } одного из участников у всех?
# Начало сообщения в кавычках.
chat-quoted = «{ $text }»
chat-delete-effect = У всех участников вместо него будет надпись «сообщение удалено».
chat-yes-delete = удалить
chat-deleting = Удаляем сообщение #{ $seq }…
chat-usage-board-add = Использование: /board add ЗАГОЛОВОК | ТЕКСТ (текст может быть в несколько строк: Alt + Enter)
chat-usage-board-edit = Использование: /board edit НОМЕР ЗАГОЛОВОК | ТЕКСТ (пустая часть останется прежней)
chat-usage-board-rm = Использование: /board rm НОМЕР (число в скобках на /board)
chat-board-unknown = Неизвестная команда /board { $sub }: /board, /board add ЗАГОЛОВОК | ТЕКСТ, /board edit НОМЕР ЗАГОЛОВОК | ТЕКСТ, /board rm НОМЕР
chat-invite-not-duration = Это не срок: «{ $word }». Использование: /invite [72h] [approve] (например: 30m, 72h, 7d)
chat-disappear-not-duration = Это не срок: «{ $arg }». Использование: /disappear 30m|12h|7d|2w|off
chat-history-not-number = Это не число сообщений: «{ $arg }». Использование: /history 50|off

## chat-polish: the invite box, status lines, invite notices in a row

chat-invite-by-voice = Чтобы продиктовать или записать: код { $code }, сервер { $relay }.
chat-invite-keys = c — скопировать в буфер обмена · /invites — показать снова · любая другая клавиша закрывает
chat-invite-copied = Приглашение передано в буфер обмена терминала (если терминал это позволяет); его можно выделить и мышью.
chat-invites-none = С начала этого сеанса для группы не создавалось приглашений: создать — /invite.
chat-invites-expired = Срок последнего приглашения этой группы истёк: новое создаёт /invite.
chat-invites-closed = Последнее приглашение этой группы уже использовано или закрыто: новое создаёт /invite.
chat-grouped-you = вы
chat-grouped-invites-made = { $actor ->
    [you] { $approval ->
        [yes] { $n ->
            [one] Вы создали { $n } приглашение (нужно одобрение администратора)
            [few] Вы создали { $n } приглашения (нужно одобрение администратора)
           *[many] Вы создали { $n } приглашений (нужно одобрение администратора)
        }
       *[no] { $n ->
            [one] Вы создали { $n } приглашение
            [few] Вы создали { $n } приглашения
           *[many] Вы создали { $n } приглашений
        }
    }
    [other] { $approval ->
        [yes] { $n ->
            [one] { $by } создаёт { $n } приглашение (нужно одобрение администратора)
            [few] { $by } создаёт { $n } приглашения (нужно одобрение администратора)
           *[many] { $by } создаёт { $n } приглашений (нужно одобрение администратора)
        }
       *[no] { $n ->
            [one] { $by } создаёт { $n } приглашение
            [few] { $by } создаёт { $n } приглашения
           *[many] { $by } создаёт { $n } приглашений
        }
    }
   *[many] { $approval ->
        [yes] { $n ->
            [one] Создано { $n } приглашение (нужно одобрение администратора): { $by }
            [few] Создано { $n } приглашения (нужно одобрение администратора): { $by }
           *[many] Создано { $n } приглашений (нужно одобрение администратора): { $by }
        }
       *[no] { $n ->
            [one] Создано { $n } приглашение: { $by }
            [few] Создано { $n } приглашения: { $by }
           *[many] Создано { $n } приглашений: { $by }
        }
    }
}
chat-grouped-joined = { $n ->
    [one] По приглашению вступил { $n } новый участник
    [few] По приглашению вступили { $n } новых участника
   *[many] По приглашению вступили { $n } новых участников
}: { $list } (добавили: { $by })
chat-grouped-asks = { $n ->
    [one] { $n } заявка на вступление
    [few] { $n } заявки на вступление
   *[many] { $n } заявок на вступление
}: { $list }. Список заявок — /requests, решение — /approve или /deny.
