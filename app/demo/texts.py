"""What the demo shop's customers and team say, per locale: products, phrases, names Faker lacks.

Customer data is not UI text: it is written in the demo's locale (the UI strings stay in templates)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Locale:
    code: str
    region: str
    timezone: str
    currency: str
    shop_name: str
    # (name, sku, price in major units)
    products: tuple[tuple[str, str, int], ...]
    car_brands: tuple[str, ...]
    tags: tuple[str, ...]
    preferences: tuple[str, ...]
    sms_in: tuple[str, ...]
    sms_out: tuple[str, ...]
    email_in: tuple[tuple[str, str], ...]  # (subject, body)
    email_out: tuple[str, ...]  # reply bodies
    chat_in: tuple[str, ...]
    chat_out: tuple[str, ...]
    notes: tuple[str, ...]
    call_notes: tuple[str, ...]
    deal_titles: tuple[str, ...]
    lost_reasons: tuple[str, ...]
    methods: tuple[str, ...] = ("card", "card", "card", "bank transfer", "cash on delivery")
    # Faker's word lists where they read well; these where they do not (bg_BG names and cities).
    names: dict[str, tuple[str, ...]] = field(default_factory=dict)
    cities: tuple[str, ...] = ()
    streets: tuple[str, ...] = ()


EN = Locale(
    code="en_US", region="US", timezone="America/New_York", currency="USD", shop_name="Demo Shop",
    products=(("Trail running shoes", "SH-TR-01", 129), ("Rain jacket", "JK-RN-02", 189), ("Merino socks (3 pack)",
              "SK-MR-03", 29), ("Insulated bottle", "BT-IN-04", 35), ("Daypack 24 l", "BP-DP-05", 95),
              ("Headlamp", "HL-LD-06", 45), ("Trekking poles", "TP-CF-07", 119), ("Fleece pullover", "FL-PO-08", 79),
              ("Camping stove", "ST-CP-09", 69), ("Sleeping bag", "SB-3S-10", 249), ("Gift card", "GC-50", 50)),
    car_brands=("Toyota", "Ford", "Chevrolet", "Honda", "Tesla", "Subaru", "Jeep", "BMW", "Hyundai", "Kia"),
    tags=("vip", "wholesale", "newsletter", "returning", "b2b", "gift buyer", "hiking club", "late payer"),
    preferences=("Prefers SMS over calls.", "Call after 6 pm only.", "Size 10 shoes, wide fit.",
                 "Likes new arrivals in earth tones.", "Ships to the office on weekdays.",
                 "Vegan materials only, please.", "Wants invoices by email for the company."),
    sms_in=("Hi, is my order on its way?", "Can I change the delivery address?", "Do you have the jacket in M?",
            "Thanks, got it!", "What time does the courier come?", "Is the sale still on?",
            "Please call me back when you can."),
    sms_out=("Your order has shipped, tracking link to follow.", "Yes, we have it in M: shall we reserve one?",
             "The courier arrives between 10 am and 2 pm.", "Done, the address is updated.",
             "Thank you for shopping with us!", "We will call you back within the hour."),
    email_in=(("Return request", "Hello, the shoes are a size too small. How do I return them?"),
              ("Invoice for my company", "Could you send an invoice with our company details?"),
              ("Wholesale prices", "We are a hiking club of 40 people. Do you offer group discounts?"),
              ("Order not received", "My order should have arrived yesterday but nothing came."),
              ("Gift wrapping", "Can you gift-wrap the sleeping bag and add a card?")),
    email_out=("Thanks for writing. A return label is attached; the refund follows once we receive the item.",
               "The invoice is attached. Let us know if anything needs changing.",
               "Yes: groups of 10 or more get 15% off. I have sent you a quote.",
               "Sorry for the delay; the courier confirms delivery tomorrow morning."),
    chat_in=("Hello! Do you ship to Canada?", "Is the rain jacket waterproof or water resistant?",
             "Can I pick up in store?", "Which stove works with butane?", "Hi, I need help with my order"),
    chat_out=("Hi! Yes, we ship to Canada in 5–7 days.", "It is fully waterproof, 20,000 mm.",
              "Sure, pick-up is free at our Main St store.", "Both models take butane canisters.",
              "Of course, what is your order number?"),
    notes=("Asked about the loyalty program; sent details.", "Prefers morning deliveries.",
           "Complained about slow delivery in the spring; offered 10% off the next order.",
           "Buys gifts for the whole family before holidays.", "Interested in the group discount for her club.",
           "Wants a call when the new trail shoes arrive."),
    call_notes=("Explained the return process.", "Confirmed delivery time.", "Took an order over the phone.",
                "Answered questions about sizes.", "Resolved a payment issue."),
    deal_titles=("Hiking club group order", "Corporate gifts", "Team uniforms", "School trip equipment",
                 "Annual supply contract", "Store display partnership"),
    lost_reasons=("Chose a cheaper supplier", "Budget cut", "No answer after the proposal"),
)

RU = Locale(
    code="ru_RU", region="RU", timezone="Europe/Moscow", currency="RUB", shop_name="Демо-магазин",
    products=(("Кроссовки для трейла", "SH-TR-01", 9900), ("Дождевик", "JK-RN-02", 12900),
              ("Носки из мериноса (3 пары)", "SK-MR-03", 1900), ("Термос 0,75 л", "BT-IN-04", 2900),
              ("Рюкзак 24 л", "BP-DP-05", 6900), ("Налобный фонарь", "HL-LD-06", 2500),
              ("Треккинговые палки", "TP-CF-07", 7900), ("Флисовая кофта", "FL-PO-08", 4900),
              ("Газовая горелка", "ST-CP-09", 3900), ("Спальный мешок", "SB-3S-10", 14900),
              ("Подарочный сертификат", "GC-50", 3000)),
    car_brands=("Lada", "Kia", "Hyundai", "Toyota", "Volkswagen", "Škoda", "Haval", "Chery", "Renault", "Geely"),
    tags=("vip", "опт", "рассылка", "постоянный", "b2b", "подарки", "турклуб", "должник"),
    preferences=("Лучше писать SMS, чем звонить.", "Звонить только после 18:00.", "Размер обуви 42, широкая колодка.",
                 "Любит новинки в природных цветах.", "Доставка в офис по будням.",
                 "Только веганские материалы.", "Счета — на почту для юрлица."),
    sms_in=("Здравствуйте, мой заказ уже в пути?", "Можно поменять адрес доставки?", "Есть дождевик размера M?",
            "Спасибо, получил!", "Во сколько приедет курьер?", "Скидки ещё действуют?", "Перезвоните, пожалуйста."),
    sms_out=("Ваш заказ отправлен, ссылку на отслеживание пришлём.", "Да, размер M есть. Отложить?",
             "Курьер приедет с 10 до 14.", "Готово, адрес изменён.", "Спасибо за покупку!",
             "Перезвоним в течение часа."),
    email_in=(("Возврат товара", "Добрый день! Кроссовки малы на размер. Как их вернуть?"),
              ("Счёт для организации", "Пришлите, пожалуйста, счёт на реквизиты нашей компании."),
              ("Оптовые цены", "Мы турклуб, 40 человек. Есть ли скидки на групповой заказ?"),
              ("Заказ не пришёл", "Заказ должен был прийти вчера, но его нет."),
              ("Подарочная упаковка", "Можно упаковать спальник в подарочную бумагу и вложить открытку?")),
    email_out=("Спасибо за письмо. Этикетка для возврата во вложении; деньги вернём, как только получим товар.",
               "Счёт во вложении. Если нужно что-то поправить — напишите.",
               "Да, от 10 человек скидка 15%. Коммерческое предложение отправил.",
               "Извините за задержку: курьер подтвердил доставку завтра утром."),
    chat_in=("Здравствуйте! Доставляете в Казахстан?", "Дождевик непромокаемый?", "Можно забрать самовывозом?",
             "Какая горелка подойдёт под цанговый баллон?", "Нужна помощь с заказом"),
    chat_out=("Здравствуйте! Да, доставка 5–7 дней.", "Да, мембрана 20 000 мм.",
              "Конечно, самовывоз бесплатно из нашего магазина.", "Подойдут обе модели.",
              "Конечно, подскажите номер заказа."),
    notes=("Спрашивал про программу лояльности, отправили условия.", "Удобнее доставка утром.",
           "Жаловалась на долгую доставку весной; дали скидку 10% на следующий заказ.",
           "Перед праздниками покупает подарки всей семье.", "Интересуется групповой скидкой для клуба.",
           "Просил позвонить, когда придут новые кроссовки."),
    call_notes=("Объяснили порядок возврата.", "Подтвердили время доставки.", "Оформили заказ по телефону.",
                "Помогли с размером.", "Решили вопрос с оплатой."),
    deal_titles=("Групповой заказ турклуба", "Корпоративные подарки", "Форма для команды",
                 "Снаряжение для школьного похода", "Годовой договор поставки", "Партнёрская витрина"),
    lost_reasons=("Выбрали поставщика дешевле", "Урезали бюджет", "Не ответили после КП"),
    methods=("карта", "карта", "карта", "счёт", "наложенный платёж"),
)

BG = Locale(
    code="bg_BG", region="BG", timezone="Europe/Sofia", currency="EUR", shop_name="Демо магазин",
    products=(("Маратонки за планина", "SH-TR-01", 119), ("Дъждобран", "JK-RN-02", 149),
              ("Чорапи от мерино (3 чифта)", "SK-MR-03", 25), ("Термос 0,75 л", "BT-IN-04", 32),
              ("Раница 24 л", "BP-DP-05", 89), ("Челник", "HL-LD-06", 39), ("Щеки за трекинг", "TP-CF-07", 99),
              ("Поларен пуловер", "FL-PO-08", 65), ("Газов котлон", "ST-CP-09", 55), ("Спален чувал", "SB-3S-10", 199),
              ("Ваучер за подарък", "GC-50", 50)),
    car_brands=("Volkswagen", "Opel", "Dacia", "Toyota", "Škoda", "Renault", "Ford", "BMW", "Peugeot", "Hyundai"),
    tags=("vip", "търговец", "бюлетин", "редовен", "b2b", "подаръци", "туристически клуб", "закъснява"),
    preferences=("Предпочита SMS пред обаждания.", "Да се звъни само след 18 ч.", "Обувки номер 42, широк калъп.",
                 "Харесва новите модели в природни цветове.", "Доставка до офиса в делнични дни.",
                 "Само веган материали.", "Фактури по имейл за фирмата."),
    sms_in=("Здравейте, поръчката ми тръгна ли?", "Може ли да сменя адреса за доставка?", "Имате ли дъждобрана в M?",
            "Благодаря, получих я!", "В колко часа идва куриерът?", "Намалението още ли е в сила?",
            "Моля, обадете ми се."),
    sms_out=("Поръчката ви е изпратена, линк за проследяване следва.", "Да, имаме M. Да ви го запазим ли?",
             "Куриерът идва между 10 и 14 ч.", "Готово, адресът е сменен.", "Благодарим за покупката!",
             "Ще ви се обадим до час."),
    email_in=(("Връщане на стока", "Здравейте, маратонките са ми малки с един номер. Как да ги върна?"),
              ("Фактура за фирма", "Може ли фактура с данните на нашата фирма?"),
              ("Цени на едро", "Ние сме туристически клуб от 40 души. Имате ли отстъпка за група?"),
              ("Поръчката не е пристигнала", "Поръчката трябваше да дойде вчера, но я няма."),
              ("Подаръчна опаковка", "Може ли да опаковате спалния чувал като подарък с картичка?")),
    email_out=("Благодарим за писмото. Прилагаме етикет за връщане; парите ще върнем, щом получим стоката.",
               "Фактурата е в приложение. Пишете, ако трябва нещо да се промени.",
               "Да, за групи от 10 души има 15% отстъпка. Изпратих ви оферта.",
               "Извинете за забавянето: куриерът потвърди доставка утре сутрин."),
    chat_in=("Здравейте! Доставяте ли до Гърция?", "Дъждобранът непромокаем ли е?", "Може ли да взема от магазина?",
             "Кой котлон е за бутан?", "Имам нужда от помощ с поръчка"),
    chat_out=("Здравейте! Да, доставката е 5–7 дни.", "Да, мембрана 20 000 мм.",
              "Разбира се, вземането от магазина е безплатно.", "И двата модела работят с бутан.",
              "Разбира се, какъв е номерът на поръчката?"),
    notes=("Пита за програмата за лоялност; изпратихме условията.", "Предпочита доставка сутрин.",
           "Оплака се от бавна доставка през пролетта; дадохме 10% отстъпка за следващата поръчка.",
           "Преди празниците купува подаръци за цялото семейство.", "Интересува се от групова отстъпка за клуба.",
           "Иска обаждане, когато дойдат новите маратонки."),
    call_notes=("Обяснихме как става връщането.", "Потвърдихме часа на доставка.", "Приехме поръчка по телефона.",
                "Помогнахме с размера.", "Решихме проблем с плащането."),
    deal_titles=("Групова поръчка за клуба", "Корпоративни подаръци", "Екипи за отбора",
                 "Екипировка за училищна екскурзия", "Годишен договор за доставки", "Партньорска витрина"),
    lost_reasons=("Избраха по-евтин доставчик", "Орязан бюджет", "Без отговор след офертата"),
    methods=("карта", "карта", "карта", "банков превод", "наложен платеж"),
    names={"first_male": ("Георги", "Иван", "Димитър", "Николай", "Петър", "Христо", "Стефан", "Александър",
                          "Мартин", "Тодор", "Васил", "Калоян", "Борислав", "Емил", "Пламен", "Кирил", "Росен",
                          "Любомир", "Веселин", "Атанас"),
           "first_female": ("Мария", "Елена", "Иванка", "Десислава", "Гергана", "Надежда", "Теодора", "Виктория",
                            "Радостина", "Петя", "Йоана", "Милена", "Силвия", "Цветелина", "Росица", "Галина",
                            "Лилия", "Анелия", "Кристина", "Стела"),
           "last_male": ("Иванов", "Георгиев", "Димитров", "Петров", "Николов", "Христов", "Стоянов", "Тодоров",
                         "Илиев", "Василев", "Атанасов", "Колев", "Маринов", "Павлов", "Костов", "Ангелов",
                         "Янков", "Симеонов", "Попов", "Добрев"),
           "last_female": ("Иванова", "Георгиева", "Димитрова", "Петрова", "Николова", "Христова", "Стоянова",
                           "Тодорова", "Илиева", "Василева", "Атанасова", "Колева", "Маринова", "Павлова",
                           "Костова", "Ангелова", "Янкова", "Симеонова", "Попова", "Добрева")},
    cities=("София", "Пловдив", "Варна", "Бургас", "Русе", "Стара Загора", "Плевен", "Велико Търново", "Благоевград"),
    streets=("ул. Граф Игнатиев", "бул. Витоша", "ул. Шипка", "бул. Христо Ботев", "ул. Раковски", "ул. Иван Вазов",
             "бул. Княгиня Мария Луиза", "ул. Цар Симеон"),
)

# Cyrillic to Latin letters for email addresses (Russian and Bulgarian).
LATIN = str.maketrans({"а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh", "з": "z",
                       "и": "i", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r",
                       "с": "s", "т": "t", "у": "u", "ф": "f", "х": "h", "ц": "ts", "ч": "ch", "ш": "sh",
                       "щ": "sht", "ъ": "a", "ы": "y", "ь": "", "э": "e", "ю": "yu", "я": "ya"})
LOCALES = {loc.code: loc for loc in (EN, RU, BG)}
