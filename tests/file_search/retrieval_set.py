# ruff: noqa: E501  (prose paragraphs of test documents)
"""A small labelled retrieval set, written for these tests (all text is original and fictional).

Eight documents (five English, three Japanese) with one fact per paragraph, and questions that
each name the document and a passage that answers them. A chunk is a gold chunk for a question
when it contains the whole passage, so the labels survive changes to the chunk size. Questions
mix exact-term lookups (product codes, names: keyword search's strength), paraphrases that share
few words with the passage (vector search's strength), Japanese questions, and English questions
about Japanese documents (only a multilingual embedder can answer those).
"""

from __future__ import annotations

from dataclasses import dataclass

DOCUMENTS: dict[str, str] = {
    "kettle.md": """# Aurora K-200 electric kettle: owner's manual

The Aurora K-200 holds 1.7 litres and boils a full jug in about four minutes on a 230 volt supply. Never fill it above the MAX line, or boiling water may spit from the spout.

Descaling: in hard-water areas, limescale builds up on the heating plate. Every four weeks, boil a mixture of half water and half white vinegar, leave it to stand for an hour, then rinse the jug three times with clean water.

Error code E4 means the kettle was switched on while empty. The dry-boil sensor cuts the power; let the base cool for ten minutes before refilling and trying again.

Error code E7 signals a fault in the temperature probe. Do not open the base yourself; return the kettle to an authorised service centre.

The keep-warm function holds the water at 80 degrees for up to thirty minutes. Press and hold the thermometer button for two seconds to switch it on.

Warranty: Aurora covers manufacturing defects for 24 months from the date of purchase. Keep the receipt; damage from dropping the kettle or from skipping descaling is not covered.

Cleaning the filter: the mesh filter behind the spout lifts out upwards. Brush it gently under running water once a month.
""",
    "expenses.md": """# Northwind Trading: travel and expense policy

Flights: employees fly economy class on trips shorter than six hours. Business class may be booked for longer flights with written approval from a director.

Hotels: the nightly limit is 180 euros in capital cities and 120 euros elsewhere, breakfast included. Anything above the limit needs a short written reason in the claim.

Per diem: a daily meal allowance of 45 euros is paid for every full day away from home. Meals already paid for by a client or a conference are deducted.

Receipts must be uploaded to the Ledgerline portal within 30 days of returning from the trip. Claims filed later are rejected unless the finance team agrees to an exception.

Rail: second-class train tickets are the default for journeys under four hours; first class is allowed on night trains.

Car hire is permitted only when no public transport reaches the destination. Choose the smallest category that fits the team, and refuel before returning the car.

Personal travel added to a business trip is allowed, provided the extra days are taken as annual leave and the employee pays any additional costs.
""",
    "library.md": """# Tidepool Public Library: visitor guide

Opening hours: the library opens at 9 in the morning and closes at 8 in the evening from Monday to Friday. On Saturdays it closes at 5, and it stays closed on Sundays and public holidays.

Borrowing: an adult card allows up to twelve items at a time. Books are lent for three weeks and DVDs for one week.

Renewals can be made online or by phone, up to three times, unless another reader has reserved the item.

Late returns: overdue books cost 20 cents per day, up to a maximum of 5 dollars per item. Children's cards never pay overdue charges.

Study rooms on the second floor can be booked for two hours at a time, up to one week in advance, at the front desk or through the website.

The makerspace in the basement has two 3D printers and a laser cutter. Visitors must complete a one-hour safety induction before using the laser cutter.

Lost cards are replaced at the front desk for a fee of 3 dollars; bring photo identification.
""",
    "tomatoes.md": """# Growing tomatoes under glass

Sowing: start seeds indoors in late February, about six millimetres deep, in a propagator kept at 20 degrees. Seedlings appear within ten days.

Transplanting: move the young plants into the greenhouse when the first flower truss becomes visible, spacing them 45 centimetres apart.

Watering: water deeply and regularly, ideally in the morning. Irregular watering causes blossom end rot, a dark sunken patch at the base of the fruit.

Feeding: once the first fruits have set, give a high-potash liquid feed every week.

Pruning cordon varieties: pinch out the side shoots that grow between the main stem and the leaf stalks while they are still small. Stop the plant by removing its growing tip after six or seven trusses.

Pests: whitefly gathers under the leaves and leaves a sticky honeydew. Hang yellow sticky traps and plant French marigolds nearby to keep numbers down.

Ventilation: open the vents when the greenhouse rises above 27 degrees, because very high temperatures stop the flowers from setting fruit.
""",
    "orion.md": """# The Orion-7 Earth observation mission

Orion-7 lifted off on 14 March 2024 from the Kestrel Point launch site aboard a Vega-class rocket.

The satellite flies in a sun-synchronous orbit at an altitude of 705 kilometres and passes over every point on Earth once every sixteen days.

Its main instrument, the HELIX spectrometer, measures sunlight reflected by the ground in 220 narrow bands to map crops, minerals and water quality.

A secondary thermal camera records sea surface temperature with a precision of 0.2 degrees.

Power comes from two deployable solar wings that produce 1.4 kilowatts; a lithium-ion battery carries the satellite through the eclipse part of each orbit.

Data is downlinked to ground stations in Norway and Chile, and the processed images are free to download after a delay of 48 hours.

The mission is planned to last seven years, with enough fuel on board to lower the satellite into the atmosphere at the end of its life.
""",
    "remote_work_ja.md": """# 在宅勤務規程（株式会社ミナト）

対象：入社後三か月を経過した正社員は、上長の承認を得て在宅勤務を行うことができる。

日数：在宅勤務は原則として週に三日までとする。残りの日は本社に出社しなければならない。

申請：在宅勤務を希望する者は、前週の金曜日までに勤怠システムで申請すること。

勤務時間：在宅勤務中も始業は午前九時、終業は午後六時とし、正午から一時間の休憩を取る。

通信費：在宅勤務手当として、毎月三千円を給与に加算して支給する。

情報管理：会社のパソコン以外で業務データを扱ってはならない。カフェなどの公共の場所での作業は禁止する。

交通費：在宅勤務の日は通勤手当を日割りで減額する。
""",
    "kyoto_ja.md": """# 京都旅行ガイド

清水寺は京都東山にある古い寺で、木造の舞台からの眺めが有名である。春の桜と秋の紅葉の季節は特に混雑する。

金閣寺は金色に輝く三層の建物で、正式な名前は鹿苑寺という。池に映る姿が美しい。

伏見稲荷大社には数千本の朱色の鳥居が山の上まで続いている。頂上まで歩くと往復で約二時間かかる。

嵐山では竹林の小径を散歩できる。早朝に行けば人が少なく、静かな雰囲気を楽しめる。

市内の移動には市バスが便利で、一日乗車券は七百円である。ただし観光シーズンのバスは非常に混む。

祇園祭は毎年七月に行われる京都の夏の祭りで、山鉾巡行が最大の見どころである。

京料理では湯豆腐や八つ橋が名物で、お土産には生八つ橋が人気である。
""",
    "sake_ja.md": """# 日本酒ができるまで

精米：酒造りはまず米を磨くことから始まる。吟醸酒では米の外側を四割以上削り、精米歩合は六十パーセント以下になる。

洗米と浸漬：磨いた米を洗い、水に浸して適切な量の水を吸わせる。時間は秒単位で管理される。

麹づくり：蒸した米に麹菌をふりかけ、温かい麹室で約二日間かけて麹を育てる。麹は米のでんぷんを糖に変える。

酒母：麹、蒸米、水、酵母を合わせて酒母をつくり、健全な酵母を大量に増やす。

仕込み：もろみは三回に分けて仕込む。これを三段仕込みと呼び、酵母が急に薄まらないようにする工夫である。

発酵：もろみは低い温度で三週間から一か月ほど発酵させる。低温でゆっくり発酵させると香りが華やかになる。

上槽：発酵が終わったもろみを搾り、酒と酒粕に分ける。その後、火入れをして保存性を高める。
""",
}


@dataclass(frozen=True, slots=True)
class Question:
    text: str
    document: str
    passage: str  # a gold chunk contains this exact text


QUESTIONS: tuple[Question, ...] = (
    # kettle.md
    Question("What does error E4 mean on the K-200?", "kettle.md", "Error code E4 means"),
    Question("How do I remove limescale from the kettle?", "kettle.md", "half white vinegar"),
    Question(
        "The kettle's temperature probe is faulty, what should I do?", "kettle.md", "Error code E7"
    ),
    Question(
        "How long does Aurora's guarantee last?",
        "kettle.md",
        "covers manufacturing defects for 24 months",
    ),
    Question(
        "Can the water be kept hot after boiling?", "kettle.md", "holds the water at 80 degrees"
    ),
    Question("How many litres does the Aurora K-200 hold?", "kettle.md", "holds 1.7 litres"),
    # expenses.md
    Question(
        "Can I fly business class on a long trip?", "expenses.md", "Business class may be booked"
    ),
    Question(
        "What is the maximum hotel price per night in a capital?",
        "expenses.md",
        "180 euros in capital cities",
    ),
    Question(
        "How much money do I get for food each day when travelling?",
        "expenses.md",
        "daily meal allowance of 45 euros",
    ),
    Question(
        "What is the deadline for submitting receipts to Ledgerline?",
        "expenses.md",
        "within 30 days of returning",
    ),
    Question(
        "Am I allowed to rent a car for a business trip?",
        "expenses.md",
        "Car hire is permitted only",
    ),
    Question(
        "Can I add a holiday to the end of a work trip?",
        "expenses.md",
        "Personal travel added to a business trip",
    ),
    # library.md
    Question(
        "When does the library close on Saturday?", "library.md", "On Saturdays it closes at 5"
    ),
    Question("How many books can an adult borrow at once?", "library.md", "up to twelve items"),
    Question("What is the fine for returning a book late?", "library.md", "20 cents per day"),
    Question(
        "Where can I reserve a quiet room to study?",
        "library.md",
        "Study rooms on the second floor",
    ),
    Question(
        "Is training required before using the laser cutter?",
        "library.md",
        "one-hour safety induction",
    ),
    Question(
        "I lost my library card, what does a new one cost?", "library.md", "Lost cards are replaced"
    ),
    # tomatoes.md
    Question(
        "When should tomato seeds be sown?", "tomatoes.md", "start seeds indoors in late February"
    ),
    Question(
        "What causes blossom end rot?", "tomatoes.md", "Irregular watering causes blossom end rot"
    ),
    Question("How do I get rid of whitefly?", "tomatoes.md", "yellow sticky traps"),
    Question(
        "Which shoots should be removed from cordon tomatoes?",
        "tomatoes.md",
        "pinch out the side shoots",
    ),
    Question(
        "What fertiliser should fruiting plants get?", "tomatoes.md", "high-potash liquid feed"
    ),
    Question(
        "Why must the greenhouse not get too hot?",
        "tomatoes.md",
        "open the vents when the greenhouse rises above 27 degrees",
    ),
    # orion.md
    Question("When was Orion-7 launched?", "orion.md", "lifted off on 14 March 2024"),
    Question(
        "At what height does the satellite orbit the Earth?",
        "orion.md",
        "altitude of 705 kilometres",
    ),
    Question("What does the HELIX instrument measure?", "orion.md", "HELIX spectrometer"),
    Question(
        "How does the spacecraft get its electricity?", "orion.md", "two deployable solar wings"
    ),
    Question(
        "Can the public download the satellite pictures?",
        "orion.md",
        "free to download after a delay of 48 hours",
    ),
    Question("How many years will the mission last?", "orion.md", "planned to last seven years"),
    # remote_work_ja.md
    Question("在宅勤務は週に何日までできますか", "remote_work_ja.md", "週に三日まで"),
    Question("在宅勤務の申請はいつまでに行いますか", "remote_work_ja.md", "前週の金曜日までに"),
    Question("在宅勤務手当はいくらですか", "remote_work_ja.md", "毎月三千円"),
    Question("カフェで仕事をしてもいいですか", "remote_work_ja.md", "公共の場所での作業は禁止"),
    Question("How many days a week can staff work from home?", "remote_work_ja.md", "週に三日まで"),
    # kyoto_ja.md
    Question("金閣寺の正式な名前は何ですか", "kyoto_ja.md", "鹿苑寺"),
    Question("伏見稲荷大社の頂上まで歩くとどのくらいかかりますか", "kyoto_ja.md", "往復で約二時間"),
    Question("市バスの一日乗車券はいくらですか", "kyoto_ja.md", "七百円"),
    Question("祇園祭はいつ行われますか", "kyoto_ja.md", "毎年七月"),
    Question("京都のお土産で人気のものは何ですか", "kyoto_ja.md", "生八つ橋が人気"),
    Question("Where can I walk through a bamboo forest in Kyoto?", "kyoto_ja.md", "竹林の小径"),
    # sake_ja.md
    Question("吟醸酒の精米歩合はどのくらいですか", "sake_ja.md", "六十パーセント以下"),
    Question("三段仕込みとは何ですか", "sake_ja.md", "三段仕込みと呼び"),
    Question("麹は何をするものですか", "sake_ja.md", "でんぷんを糖に変える"),
    Question("もろみはどのくらいの期間発酵させますか", "sake_ja.md", "三週間から一か月"),
    Question(
        "How is sake separated from the lees after fermentation?", "sake_ja.md", "酒と酒粕に分ける"
    ),
)


# Distractors: the docstrings of some standard-library modules, always at hand and far from the
# questions' topics but full of everyday words ("time", "file", "day", "number", "return").
DISTRACTOR_MODULES = (
    "argparse", "bisect", "calendar", "collections", "csv", "datetime", "decimal", "difflib",
    "email.message", "fractions", "functools", "heapq", "http.client", "itertools", "json",
    "logging", "pathlib", "random", "shutil", "statistics", "string", "tarfile", "textwrap",
    "threading", "urllib.parse", "zipfile",
)  # fmt: skip


def distractor_documents() -> dict[str, str]:
    """One text per module: its docstring and those of its public classes and functions."""
    import importlib
    import inspect

    docs: dict[str, str] = {}
    for name in DISTRACTOR_MODULES:
        module = importlib.import_module(name)
        parts = [inspect.getdoc(module) or ""]
        for attr in sorted(vars(module)):
            value = getattr(module, attr)
            if attr.startswith("_") or getattr(value, "__module__", None) != name:
                continue
            if inspect.isclass(value) or inspect.isfunction(value):
                parts.append(inspect.getdoc(value) or "")
        docs[f"stdlib_{name}.txt"] = "\n\n".join(p for p in parts if p)
    return docs
