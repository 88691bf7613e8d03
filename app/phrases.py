"""What PolicyQA says around the quotes, in each language it answers in: one table of phrasings. The quotes
themselves are the policy's own words and are never translated."""

from __future__ import annotations

from .languages import LANGUAGES

# says: one quote follows; says_in: several; silent: the policy does not answer; contact: who it names for what it
# does not answer; nowhere: no policy answers (none chosen); product: a product or support question, not a privacy one.
PHRASES: dict[str, dict[str, str]] = {
    "en": {
        "says": "The {title} says:",
        "says_in": "The {title} says, in {count} places:",
        "silent": "The {title} does not say anything about this.",
        "contact": "For questions it does not answer, it names this contact: {contact}.",
        "nowhere": "None of the policies says anything about this. Pick a policy to see who to contact about it.",
        "product": "This looks like a question about the product or service rather than about privacy.",
    },
    "ko": {
        "says": "{title}에는 이렇게 나와 있습니다:",
        "says_in": "{title}에는 {count}곳에 이렇게 나와 있습니다:",
        "silent": "{title}에는 이에 관한 내용이 없습니다.",
        "contact": "여기에 나와 있지 않은 질문은 다음 연락처로 문의하라고 안내되어 있습니다: {contact}.",
        "nowhere": "어느 방침에도 이에 관한 내용이 없습니다. 방침을 하나 고르시면 어디로 문의하면 되는지 알려 드립니다.",
        "product": "개인정보보다는 제품이나 서비스에 관한 질문으로 보입니다.",
    },
    "ja": {
        "says": "{title}には次のように書かれています：",
        "says_in": "{title}には{count}か所に次のように書かれています：",
        "silent": "{title}には、この件についての記載はありません。",
        "contact": "記載のない質問については、次の連絡先が示されています：{contact}。",
        "nowhere": "どのポリシーにも、この件についての記載はありません。ポリシーを選ぶと、問い合わせ先をご案内します。",
        "product": "プライバシーではなく、製品やサービスについてのご質問のようです。",
    },
    "zh": {
        "says": "{title}中写道：",
        "says_in": "{title}中有{count}处写道：",
        "silent": "{title}中没有提到这一点。",
        "contact": "对于其中没有回答的问题，它列出的联系方式是：{contact}。",
        "nowhere": "没有任何一份政策提到这一点。选择一份政策，即可查看应联系谁。",
        "product": "这似乎是关于产品或服务的问题，而不是关于隐私的问题。",
    },
    "es": {
        "says": "{title} dice:",
        "says_in": "{title} dice, en {count} lugares:",
        "silent": "{title} no dice nada sobre esto.",
        "contact": "Para las preguntas que no responde, el contacto indicado es: {contact}.",
        "nowhere": "Ninguna de las políticas dice nada sobre esto. Elige una política para ver a quién contactar.",
        "product": "Parece una pregunta sobre el producto o el servicio, no sobre privacidad.",
    },
    "de": {
        "says": "{title} sagt:",
        "says_in": "{title} sagt an {count} Stellen:",
        "silent": "{title} sagt dazu nichts.",
        "contact": "Für Fragen, die dort nicht beantwortet werden, wird dieser Kontakt genannt: {contact}.",
        "nowhere": "Keine der Datenschutzerklärungen sagt etwas dazu. Wählen Sie eine aus, um zu sehen, an wen Sie "
                   "sich wenden können.",
        "product": "Das scheint eine Frage zum Produkt oder Service zu sein, nicht zum Datenschutz.",
    },
    "fr": {
        "says": "{title} indique :",
        "says_in": "{title} indique, à {count} endroits :",
        "silent": "{title} ne dit rien à ce sujet.",
        "contact": "Pour les questions sans réponse, le contact indiqué est : {contact}.",
        "nowhere": "Aucune des politiques ne dit quoi que ce soit à ce sujet. Choisissez une politique pour savoir qui "
                   "contacter.",
        "product": "Cela ressemble à une question sur le produit ou le service plutôt que sur la confidentialité.",
    },
    "pt": {
        "says": "{title} diz:",
        "says_in": "{title} diz, em {count} trechos:",
        "silent": "{title} não diz nada sobre isso.",
        "contact": "Para dúvidas que não são respondidas ali, o contato indicado é: {contact}.",
        "nowhere": "Nenhuma das políticas diz algo sobre isso. Escolha uma política para ver com quem falar.",
        "product": "Parece uma pergunta sobre o produto ou serviço, e não sobre privacidade.",
    },
    "it": {
        "says": "{title} dice:",
        "says_in": "{title} dice, in {count} punti:",
        "silent": "{title} non dice nulla al riguardo.",
        "contact": "Per le domande a cui non risponde, il contatto indicato è: {contact}.",
        "nowhere": "Nessuna delle informative dice qualcosa al riguardo. Scegli un'informativa per vedere chi contattare.",
        "product": "Sembra una domanda sul prodotto o sul servizio, non sulla privacy.",
    },
}

# Between sentences: Chinese and Japanese run them together.
_SPACE = {"ja": "", "zh": ""}


def say(lang: str, key: str, **fields: object) -> str:
    """The sentence `key` in `lang`, its {fields} filled in."""
    return PHRASES[lang][key].format(**fields)


def join(lang: str, sentences: list[str]) -> str:
    """Sentences run together as `lang` writes them."""
    return _SPACE.get(lang, " ").join(sentences)
