"""A demo shop, seeded through the same services real traffic uses, so the demo behaves as production would.

Customers write through inbox.ingest (identities, joins and merge suggestions happen as they would
live). Earlier staff answers come in as outbound messages from the channel's own app, the one path
that keeps their time in the past; the answers written "now" go through inbox.replies.
"""

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import pairwise

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from inbox import canned, replies, tags, templates
from inbox.agents import service as agents
from inbox.agents import teams
from inbox.agents.models import Role, User
from inbox.channels import AddressKind, Channel
from inbox.customers import service as customers
from inbox.db import transaction, utcnow
from inbox.events import ContactShared, DeliveryStatus, Direction, InboundMessage, Party
from inbox.files import FileStore
from inbox.ingest import IngestConfig, Ingested, ingest
from inbox.messages import service as messages
from inbox.messages.models import Message
from inbox.orders import service as orders
from inbox.orders.models import Order
from inbox.preferences import service as preferences
from inbox.text import fold
from inbox.threads import service as threads
from inbox.threads.models import Status

DEMO_PASSWORD = "demo-password"
# A fixed seed: every demo database holds the same shop, so a bug seen in one is seen in all.
SEED = 1042
ACTOR = "system:demo"
STORE = "Nar Atölye"

USERS = (
    ("admin@demo.onethread", "Deniz Kara", Role.admin),
    ("ayse.agent@demo.onethread", "Ayşe Demir", Role.agent),
    ("mehmet.agent@demo.onethread", "Mehmet Aksoy", Role.agent),
    ("store@demo.onethread", "Kadıköy Mağaza", Role.store),
)

# Team → the demo agents in it (by email).
TEAMS = (("Kargo", ("ayse.agent@demo.onethread", "mehmet.agent@demo.onethread")),
         ("İadeler", ("mehmet.agent@demo.onethread",)))
TAGS = (("kargo", tags.COLORS[6]), ("iade", tags.COLORS[2]), ("vip", tags.COLORS[3]), ("değişim", tags.COLORS[7]))
# Made-up Content SIDs: a real shop copies its own from the Twilio console once WhatsApp approved the text.
TEMPLATES = (
    ("siparis_kargoda", "HX" + "5d1c0e7a9b3f4c2d" * 2, "tr",
     "Merhaba {{1}}, {{2}} numaralı siparişiniz kargoya verildi. Sorunuz olursa bu mesajı yanıtlayabilirsiniz."),
    ("yanit_bekliyor", "HX" + "a04e6b2f8c1d3e5f" * 2, "tr",
     "Merhaba {{1}}, sorunuzla ilgili size dönüş yaptık. Devam etmek için bu mesajı yanıtlamanız yeterli."),
    ("order_shipped", "HX" + "7f3a2b1c0d9e8f6a" * 2, "en",
     "Hi {{1}}, your order {{2}} has shipped. Reply to this message if you have any questions."),
)
CANNED = (
    ("kargo", "Kargo durumu",
     "Merhaba {{customer.first_name}}, {{order.number}} numaralı siparişinizin durumu: {{order.status}}. "
     "Takip bağlantısını hemen paylaşıyorum."),
    ("iade", "İade nasıl yapılır",
     "Merhaba {{customer.first_name}}, iade talebinizi aldık. Ürünü 14 gün içinde faturasıyla birlikte "
     "kargoya verebilirsiniz; ücret iadesi 3-5 iş günü içinde kartınıza yansır."),
    ("tesekkur", "Teşekkür",
     "Rica ederiz {{customer.first_name}}! Başka bir konuda yardımcı olabilirsek buradayız, iyi günler dileriz."),
)

WA, MAIL, CHAT, FB, TG, CALL = (Channel.whatsapp, Channel.email, Channel.webchat, Channel.messenger,
                                Channel.telegram, Channel.phone)


@dataclass(frozen=True, slots=True)
class Turn:
    text: str
    agent: bool = False
    channel: Channel | None = None  # None: the persona's own channel
    share_phone: bool = False  # a Telegram contact share of the persona's own number
    preference: tuple[str, str] | None = None  # stated in this message
    consent: bool | None = None  # marketing consent given or withdrawn in this message


def _c(text: str, channel: Channel | None = None, *, share_phone: bool = False,
       preference: tuple[str, str] | None = None, consent: bool | None = None) -> Turn:
    return Turn(text, channel=channel, share_phone=share_phone, preference=preference, consent=consent)


def _a(text: str, channel: Channel | None = None) -> Turn:
    return Turn(text, agent=True, channel=channel)


SCRIPTS: dict[str, tuple[Turn, ...]] = {
    "kargo": (_c("Merhaba, kargom nerede? Sipariş numaram #{order}"),
              _a("Merhaba {first}, siparişiniz dün Yurtiçi Kargo'ya teslim edildi. Takip: {tracking}"),
              _c("Tamam, teşekkür ederim 🙏")),
    "kargo_gecikti": (_c("Kargom nerede? 5 gün oldu hâlâ gelmedi 😕 #{order}"),
                      _c("Takipte 'transfer merkezinde' yazıyor, 3 gündür değişmiyor.")),
    "iptal": (_c("Siparişimi iptal etmek istiyorum. #{order}"),
              _a("Merhaba {first}, siparişiniz henüz kargoya verilmediği için iptal ettik. "
                 "Ücret iadesi 3-5 iş günü içinde kartınıza yansır."),
              _c("Çok teşekkürler, iyi çalışmalar.")),
    "iade": (_c("Merhaba, iade kodu alabilir miyim? Aldığım ayakkabı küçük geldi."),
             _a("Merhaba {first}, iade kodunuz: {code}. Yurtiçi Kargo şubesine bu kodla ücretsiz gönderebilirsiniz."),
             _c("Tamamdır, yarın gönderiyorum. Bir dahakine 39 numara alacağım, not eder misiniz?",
                preference=("shoe_size", "39"))),
    "degisim": (_c("Aldığım elbise M beden ama büyük geldi, S ile değiştirebilir miyim?", preference=("size", "S")),
                _a("Tabii {first}, değişim talebinizi oluşturduk. Kurye yarın yenisini getirip eskisini alacak.")),
    "odeme": (_c("Kartımdan 1.249,90 TL çekildi ama sipariş onayı gelmedi. Ne oldu acaba?"),
              _c("Ekran görüntüsü de atabilirim, bankadan provizyon görünüyor.")),
    "fatura": (_c("Merhaba, #{order} numaralı siparişim için kurumsal fatura rica ediyorum. "
                  "Vergi no: 1234567890, Kadıköy VD."),
               _a("Merhaba {first}, faturanız düzenlenip e-posta adresinize gönderildi.")),
    "indirim": (_c("HOSGELDIN10 indirim kodu sepette çalışmıyor, 'geçersiz kod' diyor."),
                _a("Merhaba {first}, kod ilk siparişe özel ve 500 TL üzeri sepetlerde geçerli. "
                   "Sepetiniz 430 TL görünüyor."),
                _c("Haa anladım, bir ürün daha ekleyeyim o zaman 😊")),
    "kapida": (_c("Kapıda ödeme seçeneğiniz var mı?"),
               _a("Merhaba {first}, evet: kapıda nakit ya da kartla ödeyebilirsiniz (+29,90 TL hizmet bedeli)."),
               _c("Süper. Kampanyalarınızdan da haberdar olmak isterim, buradan yazabilirsiniz.", consent=True)),
    "adres": (_c("Siparişimin teslimat adresini değiştirmem gerekiyor, taşındım. "
                 "Yeni adres: Moda Cad. No: 12 D: 4 Kadıköy/İstanbul"),),
    "hasarli": (_c("Ürün kırık geldi! Kupanın kulpu kopmuş. #{order}"),
                _a("Çok üzgünüz {first}. Hemen yenisini gönderiyoruz, kırık ürünü geri göndermenize gerek yok."),
                _c("Teşekkürler, çok naziksiniz.")),
    "stok": (_c("Keten gömleğin lacivert rengi ne zaman stoklara gelir?"),),
    "kampanya_iptal": (_c("Lütfen bana artık kampanya mesajı göndermeyin.", consent=False),
                       _a("Merhaba {first}, kampanya listemizden çıkardık. "
                          "Sipariş bildirimleri gelmeye devam edecek.")),
    "sadece_whatsapp": (_c("Merhaba, #{order} ne zaman kargoya verilir?"),
                        _a("Merhaba {first}, yarın kargoya veriyoruz."),
                        _c("Bundan sonra bana sadece WhatsApp'tan ulaşın lütfen, telefonla aramayın.",
                           preference=("preferred_channel", "yalnızca WhatsApp, arama yok"))),
    "where_en": (_c("Hi, where is my order #{order}? It's been over a week."),
                 _a("Hi {first}, it left our Istanbul warehouse on Monday with DHL Express: {tracking}"),
                 _c("Perfect, thank you!")),
    "customs_en": (_c("Hello! Will I have to pay customs fees for delivery to Germany? #{order}"),
                   _a("Hi {first}, no: orders to the EU ship with duties paid, so nothing is due on delivery."),
                   _c("Great. Please add me to your newsletter too.", consent=True)),
    "return_en": (_c("How do I return an item? The towel colour is different from the photos."),
                  _a("Sorry about that, {first}. Your return code is {code}; "
                     "the label is linked in your order email.")),
    "size_en": (_c("Do you have the linen shirt in XL? I wear XL in European sizes.", preference=("size", "XL")),),
    # One person, several channels: joined by the same verified phone or email, or by a contact share.
    "ayse_three": (_c("Kargom nerede? #{order} 3 gündür 'dağıtımda' görünüyor."),
                   _a("Merhaba {first}, kargo firmasına soruyoruz, hemen dönüyoruz."),
                   _c("Telefonla aradı: kurye adresi bulamamış, paketi Kadıköy şubesinden almak istiyor.", CALL),
                   _c("Merhaba, Telegram'dan da yazayım dedim: paket şubeye geldi mi?", TG),
                   _c("", TG, share_phone=True)),
    "zeynep_two": (_c("Merhaba, #{order} siparişimde bir ürün eksik geldi."),
                   _a("Merhaba {first}, eksik ürünü bugün ayrıca kargoluyoruz."),
                   _c("Ürün geldi, teşekkürler! Telegram'dan da ulaşabilirsiniz, numaramı paylaşıyorum.", TG),
                   _c("", TG, share_phone=True)),
    "isil_two": (_c("Siparişimi iptal etmek istiyorum, #{order}"),
                 _c("Arayıp iptali teyit etti; kapıda ödeme olduğu için ücret iadesi gerekmiyor.", CALL),
                 _a("İptal ettik {first}, iyi günler dileriz.")),
    "sukru_two": (_c("Merhaba, #{order} siparişimin faturası e-postama gelmedi. Yardımcı olabilir misiniz?"),
                  _a("Merhaba {first}, faturanızı tekrar gönderdik."),
                  _c("Merhaba, e-postayla yazmıştım; fatura geldi ama adresim yanlış yazılmış.", CHAT)),
    "ibrahim_two": (_c("Merhaba, iade kodu almak istiyorum, ürün bedenime olmadı. #{order}"),
                    _a("Merhaba {first}, iade kodunuz {code}."),
                    _c("Kargo şubesi kodu kabul etmedi, ne yapmalıyım?", CHAT)),
    "emma_two": (_c("Where is my order #{order}? The tracking page shows nothing."),
                 _c("Hi again, I wrote by email too. Any news on #{order}?", CHAT)),
    # Web chat visitors who did not sign in and typed an email someone else has proven.
    "visitor_tr": (_c("Merhaba, faturamla ilgili e-posta atmıştım, bir gelişme var mı?"),),
    "visitor_en": (_c("Hi, I emailed about my order earlier, is there an update?"),),
}

SUBJECTS = {
    "fatura": "Kurumsal fatura talebi", "iptal": "Sipariş iptali", "odeme": "Ödeme alındı ama sipariş yok",
    "iade": "İade kodu", "kargo_gecikti": "Kargo gecikmesi", "where_en": "Where is my order #{order}?",
    "customs_en": "Customs question", "return_en": "Returning an item", "sukru_two": "Sipariş #{order} faturası",
    "ibrahim_two": "İade kodu", "emma_two": "Order #{order}",
}

LIVE_REPLIES = {
    "tr": "Merhaba {first}, konuyu depo ekibimizle kontrol ettim; bugün içinde size bilgi vereceğim.",
    "en": "Hi {first}, thanks for your patience. I'm checking this with our warehouse and will update you today.",
}

NOTES = (
    "Kargo firmasını aradım; paket Ankara aktarma merkezinde, yarın dağıtımda.",
    "Depoya sordum, ürün stokta var. Değişim için kurye çağırdım.",
    "Daha önce de gecikme yaşamış; kargo ücretini iade edelim.",
    "Muhasebe faturayı yarın kesecek, müşteriye bilgi verildi.",
)

# A WhatsApp reply after the 24-hour window, as Twilio refuses it.
WINDOW_CLOSED = ("63016: Failed to send freeform message because you are outside the allowed window. "
                 "Please use a Template.")


@dataclass(frozen=True, slots=True)
class Persona:
    name: str
    channel: Channel
    script: str
    outcome: str = "open"  # open | assigned | pending | failed | resolved
    currency: str = "TRY"
    signed_in: bool = False  # a web chat visitor signed in to the shop: the shop vouches for the email
    typed_email_of: str | None = None  # the persona whose email this visitor typed into the pre-chat form


P = Persona
PERSONAS = (
    P("Ayşe Yılmaz", WA, "ayse_three", "assigned"),
    P("Şükrü Öztürk", MAIL, "sukru_two", "pending", signed_in=True),
    P("Işıl Çelik", WA, "isil_two", "resolved"),
    P("İbrahim Güneş", MAIL, "ibrahim_two", "open", signed_in=True),
    P("Emma Collins", MAIL, "emma_two", "pending", "EUR", signed_in=True),
    P("Zeynep Arslan", WA, "zeynep_two", "resolved"),
    P("Şükrü", CHAT, "visitor_tr", typed_email_of="Şükrü Öztürk"),
    P("İbo", CHAT, "visitor_tr", typed_email_of="İbrahim Güneş"),
    P("Emma", CHAT, "visitor_en", typed_email_of="Emma Collins"),
    P("Mehmet Kaya", WA, "kargo", "resolved"),
    P("Fatma Şahin", WA, "iptal", "resolved"),
    P("Ahmet Doğan", WA, "iade", "resolved"),
    P("Elif Koç", WA, "degisim", "pending"),
    P("Mustafa Aydın", WA, "kargo_gecikti", "assigned"),
    P("Hatice Kılıç", WA, "kapida", "resolved"),
    P("Hüseyin Özdemir", WA, "odeme", "open"),
    P("Zehra Aslan", WA, "sadece_whatsapp", "resolved"),
    P("Emine Çetin", WA, "hasarli", "resolved"),
    P("Ömer Yıldız", WA, "adres", "failed"),
    P("Gülşen Erdoğan", WA, "indirim", "resolved"),
    P("Çağla Polat", WA, "kampanya_iptal", "resolved"),
    P("Oğuz Kurt", WA, "stok", "open"),
    P("Büşra Özkan", WA, "kargo", "resolved"),
    P("Ümit Şimşek", WA, "iade", "pending"),
    P("Derya Tekin", WA, "degisim", "resolved"),
    P("Selin Acar", WA, "kargo_gecikti", "open"),
    P("Kübra Demirtaş", WA, "kargo", "assigned"),
    P("Serkan Yavuz", MAIL, "fatura", "resolved"),
    P("Gökhan Bulut", MAIL, "iptal", "resolved"),
    P("Nurcan Karaca", MAIL, "odeme", "assigned"),
    P("Sarah Johnson", MAIL, "where_en", "resolved", "USD"),
    P("Lukas Weber", MAIL, "customs_en", "resolved", "EUR"),
    P("Olivia Brown", MAIL, "return_en", "pending", "USD"),
    P("Canan Güler", MAIL, "fatura", "assigned"),
    P("Tuğba Yüksel", MAIL, "iade", "resolved"),
    P("Barış Aktaş", MAIL, "kargo_gecikti", "open"),
    P("Melike Uçar", CHAT, "stok", "open"),
    P("Kerem Özer", CHAT, "kapida", "resolved"),
    P("Daniel Evans", CHAT, "size_en", "open"),
    P("Gizem Kaplan", CHAT, "indirim", "resolved"),
    P("Ece Yalçın", CHAT, "adres", "assigned"),
    P("Yasemin Turan", FB, "kapida", "resolved"),
    P("Cem Altun", FB, "stok", "pending"),
    P("Pınar Uysal", FB, "indirim", "resolved"),
    P("Tolga Bozkurt", FB, "degisim", "resolved"),
    P("Jessica Miller", FB, "size_en", "open"),
    P("Erkan Çakır", TG, "stok", "open"),
    P("Sibel Ateş", TG, "kapida", "resolved"),
    P("Alper Sönmez", TG, "indirim", "pending"),
    P("Dilek Taş", TG, "adres", "open"),
)

PRODUCTS = (  # title, sku, price in TRY, price in EUR
    ("Keten Gömlek - Lacivert", "KG-LAC-M", "899.90", "24.90"),
    ("Pamuklu Peştemal Havlu", "PH-200", "649.00", "17.90"),
    ("Seramik Kupa (2'li)", "SK-2", "349.90", "9.90"),
    ("Deri Cüzdan", "DC-01", "1249.90", "34.90"),
    ("Spor Ayakkabı", "SA-39", "2199.00", "59.00"),
    ("İpek Eşarp", "IE-07", "1599.00", "43.00"),
    ("Bambu Çorap (3'lü)", "BC-3", "189.90", "5.50"),
    ("Nevresim Takımı", "NT-CIFT", "1899.00", "51.00"),
    ("Zeytinyağlı Sabun Seti", "ZS-4", "279.50", "7.90"),
    ("Türk Kahvesi Fincan Takımı", "TK-6", "749.00", "19.90"),
)
# What each story says happened to the order.
ORDER_STATUS = {"kargo": "shipped", "kargo_gecikti": "shipped", "ayse_three": "shipped", "where_en": "shipped",
                "emma_two": "shipped", "iptal": "cancelled", "isil_two": "cancelled", "odeme": "pending",
                "iade": "returned", "ibrahim_two": "returned"}
CARRIERS = ("https://www.yurticikargo.com/tr/online-servisler/gonderi-sorgula?code={}",
            "https://kargotakip.araskargo.com.tr/mainpage.aspx?code={}")
DHL = "https://www.dhl.com/tr-en/home/tracking/tracking-express.html?tracking-id={}"
MOBILE_PREFIXES = ("532", "533", "535", "536", "542", "543", "505", "506", "553", "555")
EMAIL_DOMAINS = ("example.com", "example.net", "example.org")
FIRST_ORDER = 1001
# Ending this long before now, so the story reads as that outcome (a failed WhatsApp reply needs a closed window).
ENDED_HOURS_AGO = {"pending": (0.3, 8), "open": (0.2, 72), "assigned": (1, 96), "failed": (30, 120),
                   "resolved": (24, 280)}


@dataclass(frozen=True, slots=True)
class DemoSummary:
    already_seeded: bool
    customers: int
    messages: int
    orders: int
    users: tuple[tuple[str, str], ...] = tuple((email, str(role)) for email, _, role in USERS)
    password: str = DEMO_PASSWORD


@dataclass(frozen=True, slots=True)
class _Addresses:
    phone: str
    email: str
    visitor: str
    psid: str
    telegram: str


@dataclass
class _Shop:
    session: AsyncSession
    config: IngestConfig
    now: datetime
    agents: list[User]
    rng: random.Random = field(default_factory=lambda: random.Random(SEED))


async def seed(sessions: async_sessionmaker[AsyncSession], *, region: str, files: FileStore,
               now: datetime | None = None) -> DemoSummary:
    """Seed the demo shop in one transaction; a database that has it already is left as it is.

    Customers' messages end before `now`; what agents write through inbox.replies carries the real clock.
    """
    async with transaction(sessions) as session:
        if await _already_seeded(session):
            return await _summary(session, already_seeded=True)
        users = [await agents.create_user(session, email=email, password=DEMO_PASSWORD, name=name, role=role)
                 for email, name, role in USERS]
        await _seed_catalogs(session, {user.email: user.id or 0 for user in users})
        shop = _Shop(session, IngestConfig(region=region, files=files), now or utcnow(),
                     agents=[user for user in users if user.role == Role.agent])
        addresses = {persona.name: _addresses(shop.rng, persona) for persona in PERSONAS}
        for number, persona in enumerate(PERSONAS, start=FIRST_ORDER):
            await _seed_customer(shop, persona, addresses, number)
        return await _summary(session, already_seeded=False)


async def _seed_catalogs(session: AsyncSession, user_ids: dict[str, int]) -> None:
    for name, members in TEAMS:
        team = await teams.create(session, name=name)
        await teams.set_members(session, team.id or 0, [user_ids[email] for email in members])
    for name, color in TAGS:
        await tags.create(session, name=name, color=color)
    for shortcut, title, body in CANNED:
        await canned.save(session, shortcut=shortcut, title=title, body=body)
    for name, content_sid, language, body in TEMPLATES:
        await templates.save(session, name=name, content_sid=content_sid, language=language, body=body)


async def _already_seeded(session: AsyncSession) -> bool:
    admin_email = USERS[0][0]
    return (await session.execute(select(col(User.id)).where(col(User.email) == admin_email))).first() is not None


async def _summary(session: AsyncSession, *, already_seeded: bool) -> DemoSummary:
    said = select(func.count()).select_from(Message).where(col(Message.direction) != Direction.event)
    return DemoSummary(
        already_seeded=already_seeded, customers=await customers.count(session),
        messages=int((await session.execute(said)).scalar_one()),
        orders=int((await session.execute(select(func.count()).select_from(Order))).scalar_one()),
    )


def _addresses(rng: random.Random, persona: Persona) -> _Addresses:
    local = ".".join(fold(persona.name).split())
    return _Addresses(
        phone=f"+90{rng.choice(MOBILE_PREFIXES)}{rng.randrange(10**6, 10**7)}",
        email=f"{local}@{rng.choice(EMAIL_DOMAINS)}",
        visitor=f"v_{rng.getrandbits(48):012x}",
        psid=str(rng.randrange(10**15, 10**16)),
        telegram=str(rng.randrange(10**8, 7 * 10**9)),
    )


async def _seed_customer(shop: _Shop, persona: Persona, addresses: dict[str, _Addresses], number: int) -> None:
    own = addresses[persona.name]
    turns = SCRIPTS[persona.script]
    words = {"order": str(number), "first": persona.name.split()[0], "code": f"IADE-{shop.rng.randrange(10**5, 10**6)}",
             "tracking": _tracking_url(shop.rng, persona.currency)}
    times = _timeline(shop.rng, persona, turns, shop.now)
    customer_id = 0
    for index, (turn, at) in enumerate(zip(turns, times, strict=True)):
        channel = turn.channel or persona.channel
        result = await ingest(shop.session, _event(persona, own, turn, channel, words, f"demo-{number}-{index}", at),
                              config=shop.config)
        customer_id = result.customer_id or customer_id
        await _record_statements(shop, turn, channel, result, at)
    if persona.typed_email_of:
        await customers.attach_claimed(shop.session, customer_id=customer_id, kind=AddressKind.email,
                                       raw=addresses[persona.typed_email_of].email, channel=Channel.webchat,
                                       region=shop.config.region)
    # A contact share may have merged this customer into an earlier one: act on the survivor.
    customer_id = (await customers.get(shop.session, customer_id)).id or customer_id
    if _proves_an_address(persona):
        await _place_order(shop, persona, own, number, words["tracking"], first_message_at=times[0])
    await _finish(shop, persona, customer_id, words)


def _timeline(rng: random.Random, persona: Persona, turns: tuple[Turn, ...], now: datetime) -> list[datetime]:
    gaps = [0.0]
    for previous, turn in pairwise(turns):
        changed = (turn.channel or persona.channel) != (previous.channel or persona.channel)
        gaps.append(rng.uniform(3, 20) * 60 if changed and not turn.share_phone else rng.uniform(0.05, 4) * 60)
    low, high = ENDED_HOURS_AGO[persona.outcome]
    end = now - timedelta(hours=rng.uniform(low, high))
    start = end - timedelta(minutes=sum(gaps))
    times, at = [], start
    for gap in gaps:
        at += timedelta(minutes=gap)
        times.append(at)
    return times


def _event(persona: Persona, own: _Addresses, turn: Turn, channel: Channel, words: dict[str, str],
           provider_id: str, at: datetime) -> InboundMessage | ContactShared:
    sender = _party(persona, own, channel, named=not turn.agent)
    if turn.share_phone:
        # Telegram sends the number without its plus sign.
        return ContactShared(channel, provider_id, sender, Party(own.phone.lstrip("+"), AddressKind.phone, True))
    subject = None
    if channel == Channel.email:
        subject = SUBJECTS.get(persona.script, "Siparişim hakkında").format(**words)
        subject = f"Re: {subject}" if turn.agent else subject
    return InboundMessage(channel, provider_id, sender, text=turn.text.format(**words), subject=subject,
                          provider_at=at, direction=Direction.outbound if turn.agent else Direction.inbound)


def _party(persona: Persona, own: _Addresses, channel: Channel, *, named: bool) -> Party:
    # A staff answer names no one: ingest takes the party's name as the message's author.
    name = persona.name if named else None
    if channel == Channel.whatsapp:
        return Party(f"whatsapp:{own.phone}", AddressKind.phone, True, name)
    if channel == Channel.phone:
        # An agent logs the call with the caller ID as it showed on the desk phone.
        national = f"0{own.phone[3:6]} {own.phone[6:9]} {own.phone[9:11]} {own.phone[11:]}"
        return Party(national, AddressKind.phone, True, name)
    if channel == Channel.email or (channel == Channel.webchat and persona.signed_in):
        return Party(own.email, AddressKind.email, True, name)
    handle = {Channel.webchat: own.visitor, Channel.messenger: own.psid, Channel.telegram: own.telegram}[channel]
    return Party(handle, AddressKind.handle, True, name)


async def _record_statements(shop: _Shop, turn: Turn, channel: Channel, said: Ingested, at: datetime) -> None:
    if said.customer_id is None:
        return
    if turn.preference is not None:
        key, value = turn.preference
        await preferences.set_preference(shop.session, customer_id=said.customer_id, key=key, value=value,
                                         source="stated", actor=ACTOR, source_channel=channel,
                                         source_message_id=said.message_id, stated_at=at)
    if turn.consent is not None:
        await preferences.record_consent(shop.session, customer_id=said.customer_id, channel=channel,
                                         granted=turn.consent, source="stated", actor=ACTOR,
                                         proof_message_id=said.message_id, at=at)


def _proves_an_address(persona: Persona) -> bool:
    # The shop reports orders by email or phone; only a proven one joins the order to this customer.
    return persona.channel in (Channel.whatsapp, Channel.email) or persona.signed_in


def _tracking_url(rng: random.Random, currency: str) -> str:
    code = str(rng.randrange(10**9, 10**10))
    return DHL.format(code) if currency != "TRY" else rng.choice(CARRIERS).format(code)


async def _place_order(shop: _Shop, persona: Persona, own: _Addresses, number: int, tracking: str, *,
                       first_message_at: datetime) -> None:
    chosen = shop.rng.sample(PRODUCTS, shop.rng.randint(1, 3))
    price_column = 2 if persona.currency == "TRY" else 3
    # USD prices follow the EUR list at a fixed rate: demo numbers, not a price feed.
    rate = Decimal("1.08") if persona.currency == "USD" else Decimal(1)
    lines = [orders.IncomingLine(title=row[0], sku=row[1], quantity=shop.rng.randint(1, 2),
                                 price=(Decimal(row[price_column]) * rate).quantize(Decimal("0.01")))
             for row in chosen]
    status = ORDER_STATUS.get(persona.script, "delivered")
    placed_at = first_message_at - timedelta(days=shop.rng.uniform(1, 6))
    await orders.upsert(shop.session, orders.IncomingOrder(
        external_id=f"demo-{number}", number=str(number), status=status, currency=persona.currency,
        total=sum((line.price * line.quantity for line in lines), Decimal(0)), placed_at=placed_at,
        email=own.email if persona.channel != Channel.whatsapp else None,
        phone=own.phone if persona.channel == Channel.whatsapp else None, name=persona.name, lines=lines,
        tracking_url=tracking if status in ("shipped", "delivered", "returned") else None,
        store_name=STORE if persona.currency == "TRY" else f"{STORE} EU"), region=shop.config.region)


async def _finish(shop: _Shop, persona: Persona, customer_id: int, words: dict[str, str]) -> None:
    session = shop.session
    thread = await threads.for_customer(session, customer_id)
    agent = shop.agents[customer_id % len(shop.agents)]
    if persona.outcome == "open":
        return
    await threads.assign(session, thread, assignee_id=agent.id)
    if persona.outcome == "assigned":
        await replies.add_note(session, customer_id=customer_id, text=shop.rng.choice(NOTES),
                               author_user_id=agent.id, author_name=agent.name)
    elif persona.outcome in ("pending", "failed"):
        language = "en" if persona.script.endswith("_en") or persona.currency != "TRY" else "tr"
        channel = Channel(thread.last_inbound_channel)
        queued_at = None
        if persona.outcome == "failed":
            # The story of a 63016: queued just before WhatsApp's window closed, sent just after it.
            last = (await replies.reply_identity(session, customer_id, channel)).last_inbound_at
            queued_at = last + timedelta(hours=23, minutes=50) if last else None
        reply = await replies.queue_reply(session, customer_id=customer_id, channel=channel,
                                          text=LIVE_REPLIES[language].format(**words),
                                          author_user_id=agent.id, author_name=agent.name, now=queued_at)
        # Settled here, never left queued: a configured provider would otherwise message these made-up numbers.
        if persona.outcome == "failed":
            await messages.apply_delivery(session, reply, status=DeliveryStatus.failed, error=WINDOW_CLOSED)
        else:
            await messages.apply_delivery(session, reply, status=DeliveryStatus.delivered, error=None)
            await threads.set_status(session, thread, status=Status.pending)
    elif persona.outcome == "resolved":
        await threads.set_status(session, thread, status=Status.resolved)
