# profile
# Профиль: создание, открытие, удаление, пароли; как сообщается об ошибке.

profile-error = kith: { $message }
profile-docs-failed = не удалось записать документацию в { $path }: { $error }

profile-none = в папке { $path } ещё нет профиля Kith.
    Чтобы создать профиль, выполните: kith init --name ИМЯ
    Если ваш профиль в другой папке, добавьте к команде --home ПАПКА
profile-none-doctor = в папке { $path } нет профиля Kith, а значит, нет и групп, серверы которых можно проверить: укажите адрес сервера или код приглашения (kith doctor АДРЕС)
profile-exists = в папке { $path } уже есть профиль Kith
profile-no-home-dir = не найдена домашняя папка; укажите папку профиля: --home ПАПКА (или KITH_HOME=ПАПКА)
profile-no-daemon = для этого профиля фоновый процесс не запущен

profile-prompt = Пароль:
profile-prompt-new = Пароль:
profile-prompt-new-again = Повторите пароль:
profile-prompt-changed = Новый пароль:
profile-prompt-changed-again = Повторите новый пароль:
profile-prompt-duress = Пароль под принуждением:
profile-prompt-duress-again = Повторите пароль под принуждением:
profile-no-passphrase = пароль не задан: укажите его в переменной окружения { $env } или запустите команду в терминале
profile-passphrases-differ = пароли не совпадают
profile-passphrase-too-short = пароль должен быть не короче { $n ->
    [one] { $n } символа
   *[other] { $n } символов
}

profile-created = Профиль создан в папке { $path }
    Имя:       { $name }
    Отпечаток: { $fingerprint }

profile-wipe-needs-yes = удалить профиль не из терминала можно только с --yes
profile-wipe-word = удалить
profile-wipe-confirm = Уничтожить профиль в папке { $path } навсегда, без возможности восстановления? Введите «{ $word }»:
profile-wipe-not-wiped = профиль не удалён
profile-wipe-none = в папке { $path } нет профиля Kith: удалять нечего
profile-wiped = Профиль уничтожен.

profile-duress-same = пароль под принуждением должен отличаться от вашего пароля
profile-duress-set = Пароль под принуждением задан. Если открыть профиль с ним, этот профиль будет безвозвратно уничтожен, а на его месте откроется пустой профиль с тем же именем.
profile-passphrase-changed = Пароль изменён.

## duress notify (kith passphrase --duress --notify)
profile-duress-set-notify = Пароль под принуждением задан, с уведомлением. Если открыть профиль с ним, kith сначала сообщит вашим группам, что профиль открыли под принуждением, и выйдет из них (если сервер ответит за 10 секунд), а потом безвозвратно уничтожит этот профиль и откроет на его месте пустой профиль с тем же именем. Учтите: с уведомлением тот, кто заранее скопировал этот диск и узнает пароль под принуждением, сможет открыть этот профиль. Чтобы выключить уведомление, задайте пароль под принуждением заново без --notify.

## kith wipe --leave
profile-wipe-left = kith: вы вышли из группы «{ $group }».
profile-wipe-not-left = kith: не удалось выйти из группы «{ $group }» ({ $why }); там вас будут видеть в списке участников, пока администратор не исключит.
profile-wipe-leave-timeout = сервер не ответил вовремя

## --passphrase-file
profile-passphrase-file-unreadable = не удалось прочитать файл с паролем { $path }: { $error }
profile-passphrase-file-open = файл с паролем { $path } могут читать другие пользователи этого компьютера, поэтому он не используется. Сделайте его доступным только вам: chmod 600 { $path }
profile-passphrase-file-empty = файл с паролем { $path } пуст: пароль — это его первая строка
