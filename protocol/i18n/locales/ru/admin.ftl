# admin
# Команды управления группой (kith board, requests, approve, group set, group show…).

admin-confirm-with-yes = { $what } Чтобы продолжить, запустите команду ещё раз с --yes.
admin-confirm-ask = { $what } Продолжить? [д/Н]
admin-nothing-changed = ничего не изменено

admin-board-empty = Доска пуста.
admin-board-by = — { $name }, { $time } { $zone }
admin-board-which-group = какая группа? `kith board ГРУППА`
admin-board-stored = kith: не удалось получить новые сообщения ({ $error }); показана сохранённая доска
admin-board-pinned = Закреплено на доске: [{ $id }] { $title }.
admin-board-edit-what = укажите --title и/или --text
admin-board-edited = Запись [{ $id }] изменена.
admin-board-removed = Запись [{ $id }] снята с доски.

admin-requests-stored = kith: не удалось получить новые сообщения ({ $error }); показаны сохранённые заявки
admin-requests-none = Заявок на вступление нет.
admin-request-back = { $number }. { $name }  [{ $fingerprint }]  просит вернуться после долгого отсутствия, заявка от { $time } { $zone }
admin-request-invited = { $number }. { $name }  [{ $fingerprint }]  по приглашению от { $inviter }, заявка от { $time } { $zone }
admin-requests-compare = Прежде чем одобрить заявку (`kith approve "{ $group }" НОМЕР`), сверьте отпечаток с самим человеком.
admin-approved = Заявка от { $name } одобрена: участник добавляется в группу.
admin-denied = Заявка от { $name } отклонена: приглашение закрыто.

admin-promoted = Участник { $name } назначен администратором.
admin-demoted = С участника { $name } сняты права администратора.
admin-deleted = Сообщение { $seq } удалено у всех.

admin-set-bad-duration = «{ $value }» — это не срок (например: 1h, 7d; отключить: --disappear off)
admin-set-bad-history = «{ $value }» — это не число сообщений
admin-set-bad-let-back = укажите --let-back ask или --let-back auto (а не «{ $value }»)
admin-set-what = укажите --disappear, --history, --let-back, --fallback и/или --no-fallback
admin-set-timer-deletes = Таймер «{ $duration }» сразу удалит с сервера { $messages ->
        [one] { $messages } сообщение
        [few] { $messages } сообщения
       *[many] { $messages } сообщений
    } и { $files ->
        [one] { $files } файл
        [few] { $files } файла
       *[many] { $files } файлов
    }, которые старше этого срока и ещё хранятся там: участники, которые их ещё не прочитали (или не скачали файлы), их потеряют. То, что уже есть на устройствах людей, останется там, пока не истечёт их собственный таймер.
admin-set-fallback-note = kith: { $note }
admin-set-done = Настройки изменены.

admin-show-stored = kith: не удалось получить новые сообщения ({ $error }); показаны сохранённые сведения о группе
admin-show-admins = администраторы: { $admins }
admin-show-disappear = исчезающие сообщения: { $duration }
admin-show-disappear-off = исчезающие сообщения: выключены
admin-show-history = история для новых участников: последние сообщения ({ $n })
admin-show-history-off = история для новых участников: выключена
admin-show-relay = сервер: { $relay }
admin-show-at-fallback = эта программа сейчас работает через запасной сервер { $at }: сервер { $home } недоступен
admin-show-fallbacks = запасные серверы: { $relays }
admin-show-fallbacks-none = запасные серверы: нет
admin-show-let-back-auto = участники после долгого отсутствия: возвращаются сами, когда попросят
admin-show-let-back-ask = участники после долгого отсутствия: решает администратор, когда они попросят вернуться
admin-show-retention = сервер хранит зашифрованные данные: { $duration }
admin-show-board = записей на доске: { $n }
admin-show-invites = открытых приглашений: { $n }

admin-moved = Группа перенесена с сервера { $from } на { $to }. Программа каждого участника перейдёт туда, когда в следующий раз получит новые сообщения; копия на { $from } будет удалена, когда перейдут все.
admin-moved-chunks-lost = { $n ->
        [one] { $n } фрагмент файла уже был удалён с сервера { $from } по истечении срока хранения и не скопирован: этот файл больше нельзя скачать.
        [few] { $n } фрагмента файлов уже были удалены с сервера { $from } по истечении срока хранения и не скопированы: эти файлы больше нельзя скачать.
       *[many] { $n } фрагментов файлов уже были удалены с сервера { $from } по истечении срока хранения и не скопированы: эти файлы больше нельзя скачать.
    }
admin-moved-invites-closed = Открытые коды приглашений указывали на старый сервер и теперь закрыты: создайте новые.
