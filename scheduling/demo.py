"""A demo program to explore the product with: deterministic, realistic, small.

Forty people across six departments and seven time zones: two admins, twenty
mentors (weekly slots in their own zones, offered skills with levels) and
mentees (wanted skills, a few managers), plus requests in every state and a few
meetings. The same seed gives the same people, skills and slots every time;
request times are placed relative to ``now`` (pass it to pin them too).

Every demo person signs in with the password ``demo``; :data:`LOGINS` are the
easy addresses to start with.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scheduling import notifications, video
from scheduling.db import utcnow
from scheduling.models import (
    DatedSlot,
    DeclineReason,
    EmailChoice,
    Initiator,
    Meeting,
    MeetingMode,
    MeetingRequest,
    MeetingState,
    Message,
    NotificationKind,
    NotificationPreference,
    Person,
    PersonSkill,
    ProfileAnswer,
    ProfileField,
    Program,
    ProposedTime,
    QuestionKind,
    RequestState,
    SkillAlias,
    SkillRelation,
    SurveyAudience,
    SurveyQuestion,
    SurveyVariant,
    WeeklySlot,
)
from scheduling.passwords import hash_password
from scheduling.services import recommendations, surveys
from scheduling.services.program import check_settings
from scheduling.services.skills import get_or_create_skill, skill_key
from scheduling.services.transaction import unit_of_work

DEMO_SEED = 20240611
DEMO_VIDEO_TEMPLATE = "https://meet.example.org/{room}"  # a placeholder address: the demo makes no real calls
DEMO_PASSWORD = "demo"
DOMAIN = "example.com"
LOGINS = {
    "admin": f"admin@{DOMAIN}",
    "mentor": f"mentor@{DOMAIN}",
    "mentee": f"mentee@{DOMAIN}",
}

ZONES = [
    ("Europe/London", "UK & Ireland"),
    ("America/New_York", "North America East"),
    ("America/Los_Angeles", "North America West"),
    ("Asia/Kolkata", "India"),
    ("Australia/Sydney", "Australia & NZ"),
    ("Europe/Berlin", "DACH"),
    ("America/Sao_Paulo", "Latin America"),
]

DEPARTMENTS: dict[str, tuple[list[str], list[str]]] = {
    # department: (titles, skills offered there)
    "Engineering": (
        ["Software Engineer", "Senior Software Engineer", "Staff Engineer", "Engineering Manager"],
        ["Python", "System Design", "Kubernetes", "Code Review", "SQL", "Incident Response"],
    ),
    "Sales": (
        ["Account Executive", "Sales Manager", "Sales Engineer", "Regional Director"],
        ["Salesforce CRM", "Negotiation", "Pipeline Forecasting", "Enterprise Deals", "Cold Outreach"],
    ),
    "Marketing": (
        ["Product Marketing Manager", "Content Strategist", "Growth Marketer", "Brand Lead"],
        ["Copywriting", "SEO", "Campaign Analytics", "Positioning", "Public Speaking"],
    ),
    "Finance": (
        ["Financial Analyst", "Controller", "FP&A Manager", "Treasury Analyst"],
        ["Financial Modeling", "Budgeting", "Excel", "Forecasting", "SQL"],
    ),
    "People": (
        ["HR Business Partner", "Recruiter", "Learning Lead", "People Operations Manager"],
        ["Interviewing", "Career Development", "Coaching", "Conflict Resolution", "Onboarding"],
    ),
    "Product": (
        ["Product Manager", "Senior Product Manager", "Product Designer", "UX Researcher"],
        ["Roadmapping", "User Research", "Figma", "Stakeholder Management", "Public Speaking"],
    ),
}
GENERAL_SKILLS = ["Leadership", "Presentation Skills", "Time Management", "Giving Feedback"]
ALIASES = {"Salesforce CRM": ["SFDC", "CRM - Salesforce"], "Kubernetes": ["k8s"], "Figma": ["figma design"]}

FIRST = ["Amara", "Bruno", "Chen", "Dara", "Elif", "Farid", "Greta", "Hiro", "Isla", "Jonas", "Kavya", "Liam",
         "Maya", "Nikhil", "Olivia", "Pedro", "Quinn", "Rosa", "Sami", "Tara", "Uma", "Victor", "Wen",
         "Ximena", "Yusuf", "Zoe", "Aditi", "Ben", "Carla", "Diego", "Emma", "Felix", "Grace", "Hannah",
         "Ivan", "Julia", "Kenji", "Lena", "Marco", "Nora"]
LAST = ["Okafor", "Silva", "Wang", "Murphy", "Yilmaz", "Haddad", "Schmidt", "Tanaka", "Campbell", "Berg",
        "Iyer", "O'Brien", "Cohen", "Rao", "Johnson", "Alves", "Taylor", "Garcia", "Nieminen", "Kaur",
        "Patel", "Dubois", "Li", "Ramirez", "Demir", "Fischer", "Sharma", "Walker", "Rossi", "Lopez",
        "Brown", "Wagner", "Kim", "Novak", "Petrov", "Costa", "Sato", "Meyer", "Bianchi", "Lindqvist"]
NOTES = [
    "Happy to talk any weekday morning; message me first if my slots do not fit.",
    "Best for 30-minute chats; I can stretch to an hour for career conversations.",
    "I travel a lot; if nothing fits, propose times and I will try.",
    "Mostly afternoons in my time zone.",
]
TOPICS = [
    "Preparing for my first promotion conversation",
    "How to structure a system design interview",
    "Getting better at negotiation with large customers",
    "Moving from analyst to manager",
    "Making sense of campaign analytics",
    "Building a forecasting model that people trust",
    "Giving feedback to a senior colleague",
    "Running user interviews well",
    "Presenting to the leadership team",
    "Switching from sales to product",
]
GOALS = (
    "Leave with two concrete next steps.",
    "Understand what good looks like, and where I stand.",
    "Get honest feedback on my plan.",
)

N_PEOPLE = 40
N_ADMINS = 2
N_MENTORS = 20


@dataclass
class DemoSummary:
    """What was loaded, for the CLI to print."""

    people: int = 0
    mentors: int = 0
    mentees: int = 0
    admins: int = 0
    requests: dict[str, int] = field(default_factory=dict)
    logins: dict[str, str] = field(default_factory=lambda: dict(LOGINS))
    password: str = DEMO_PASSWORD


def is_empty(session: Session) -> bool:
    """No people and no program: the demo may be loaded."""
    people = session.scalar(select(func.count(Person.id))) or 0
    programs = session.scalar(select(func.count(Program.id))) or 0
    return people == 0 and programs == 0


def is_loaded(session: Session) -> bool:
    return session.scalar(select(Person.id).where(Person.email == LOGINS["admin"])) is not None


def load_demo(session: Session, *, seed: int = DEMO_SEED, now: datetime | None = None) -> DemoSummary:
    """Fill an empty database with the demo program; one transaction."""
    if not is_empty(session):
        raise RuntimeError("The database already has people or a program; the demo needs an empty one.")
    now = now or utcnow()
    rng = random.Random(seed)
    with unit_of_work(session):
        program = Program(
            **check_settings(None, {
                "name": "Flash mentoring (demo)",
                "description": "One-off 30-minute conversations with colleagues who know the thing you need.",
                "mentoring_mode": "both",  # one meeting, or a mentoring connection
                "availability_mode": "weekly_slots",
                "slot_minutes": 30,
                "buffer_minutes": 0,
                "lead_time_hours": 24,
                "mentors_may_create": False,
                "remind_after_days": 3,
                "auto_close_after_days": 14,
                "max_meetings_per_month": 4,
                "max_meetings_per_year": 24,
                "max_pending_requests": 3,
                "video_links": True,  # no calendars in the demo: video meetings get the template's link
                "video_url_template": DEMO_VIDEO_TEMPLATE,
            }),
            created_at=now,
        )
        session.add(program)
        session.flush()
        surveys.ensure_default_questions(session, program)  # the report and the editor start from these
        _split_surveys(session, program)
        _skill_catalogue(session)
        people = _people(session, rng, now)
        summary = _requests(session, rng, program, people, now)
        _people_side(session, program, people, now)
        _profile_fields(session, program, people)
        session.commit()
    summary.people = len(people)
    summary.admins = sum(p.is_admin for p in people)
    summary.mentors = sum(p.is_mentor for p in people)
    summary.mentees = sum(p.is_mentee for p in people)
    return summary


LANGUAGE_BY_ZONE = {"Europe/Berlin": "German", "America/Sao_Paulo": "Portuguese", "Asia/Kolkata": "Hindi"}


def _profile_fields(session: Session, program: Program, people: list[Person]) -> None:
    """An admin-defined field that is a directory filter (seed 003): the language each person speaks
    besides English, by their region (English where none other)."""
    field = ProfileField(program_id=program.id, label="Language", filterable=True, position=1,
                         choices=["English", "German", "Hindi", "Portuguese"])
    session.add(field)
    session.flush()
    for person in people:
        session.add(ProfileAnswer(person_id=person.id, field_id=field.id,
                                  value=LANGUAGE_BY_ZONE.get(person.time_zone, "English")))


def _split_surveys(session: Session, program: Program) -> None:
    """A question only mentees are asked and one only mentors are: the two surveys differ."""
    held = surveys.questions_for(session, program, SurveyVariant.HELD)
    last = max(q.position for q in held)
    session.add_all([
        SurveyQuestion(program_id=program.id, variant=SurveyVariant.HELD, position=last + 1,
                       text="What will you try first?", kind=QuestionKind.TEXT, choices=[], required=False,
                       audience=SurveyAudience.MENTEE, active=True),
        SurveyQuestion(program_id=program.id, variant=SurveyVariant.HELD, position=last + 2,
                       text="How clear were your mentee's goals?", kind=QuestionKind.RATING, choices=[],
                       required=False, audience=SurveyAudience.MENTOR, active=True),
    ])
    session.flush()


def _people_side(session: Session, program: Program, people: list[Person], now: datetime) -> None:
    """What mentees and mentors see beyond requests: one mentor paused for two weeks, a pushed
    recommendation and a message (each a notification with its email), and a notification
    preference set to the daily digest."""
    admin = next(p for p in people if p.email == LOGINS["admin"])
    star_mentor = next(p for p in people if p.email == LOGINS["mentor"])
    star_mentee = next(p for p in people if p.email == LOGINS["mentee"])
    paused = next(p for p in people if p.is_mentor and p is not star_mentor and not p.is_admin)
    paused.paused_until = now + timedelta(days=14)
    pick = next(p for p in people if p.is_mentor and p not in (star_mentor, paused) and not p.is_admin)
    note = "Knows the path you asked about."
    recommendations._push(session, program, admin, [(star_mentee.id, pick.id, note)], commit=False)
    asked = session.scalar(select(MeetingRequest).where(
        MeetingRequest.mentee_id == star_mentee.id, MeetingRequest.mentor_id == star_mentor.id,
        MeetingRequest.state == RequestState.PENDING))
    if asked is not None:
        session.add(Message(request_id=asked.id, author_id=star_mentor.id, created_at=now,
                            body="Happy to help. Could you send two questions before we meet?"))
        notifications.notify(session, star_mentee.id, NotificationKind.MESSAGE,
                             f"{star_mentor.name} wrote about “{asked.topic}”",
                             link=f"/requests/{asked.id}", now=now)
    session.add(NotificationPreference(person_id=star_mentor.id, kind=NotificationKind.MESSAGE,
                                       email=EmailChoice.DIGEST))
    session.flush()


def _skill_catalogue(session: Session) -> None:
    names = sorted({s for _, skills in DEPARTMENTS.values() for s in skills} | set(GENERAL_SKILLS))
    for name in names:
        skill = get_or_create_skill(session, name)
        for alias in ALIASES.get(name, []):
            key = skill_key(alias)
            if key != skill.key:
                skill.aliases.append(SkillAlias(key=key))
    session.flush()


def _people(session: Session, rng: random.Random, now: datetime) -> list[Person]:
    password_hash = hash_password(DEMO_PASSWORD)  # one hash for all: loading stays fast
    departments = list(DEPARTMENTS)
    names = [f"{f} {last}" for f, last in zip(FIRST, rng.sample(LAST, len(LAST)), strict=True)]
    people: list[Person] = []
    for i in range(N_PEOPLE):
        dept = departments[i % len(departments)]
        titles, _ = DEPARTMENTS[dept]
        zone, region = ZONES[i % len(ZONES)]
        is_admin = i < N_ADMINS
        is_mentor = i == 1 or N_ADMINS <= i < N_ADMINS + N_MENTORS - 1
        is_mentee = not is_admin and (not is_mentor or rng.random() < 0.2)
        name = names[i]
        special = {0: LOGINS["admin"], N_ADMINS: LOGINS["mentor"], N_ADMINS + N_MENTORS - 1: LOGINS["mentee"]}
        email = special.get(i, f"{name.lower().replace(' ', '.').replace(chr(39), '')}@{DOMAIN}")
        person = Person(
            name=name,
            email=email,
            department=dept,
            title="Mentoring Program Lead" if i == 0 else rng.choice(titles),
            region=region,
            time_zone=zone,
            bio=f"{dept} at the company for {rng.randint(1, 15)} years.",
            password_hash=password_hash,
            is_admin=is_admin,
            is_mentor=is_mentor,
            is_mentee=is_mentee,
            created_at=now,
        )
        session.add(person)
        people.append(person)
    session.flush()

    # Mentors of a department take its skills in turn, so every skill has someone offering it.
    rotation = {dept: rng.sample(skills, len(skills)) for dept, (_, skills) in DEPARTMENTS.items()}
    turn = dict.fromkeys(DEPARTMENTS, 0)
    for person in people:
        _, dept_skills = DEPARTMENTS[person.department]
        if person.is_mentor:
            cycle, k = rotation[person.department], rng.randint(2, 3)
            offered = [cycle[(turn[person.department] + j) % len(cycle)] for j in range(k)]
            turn[person.department] += k
            offered += rng.sample(GENERAL_SKILLS, 1)
            for name in offered:
                _add_skill(session, person, name, SkillRelation.OFFERS, rng.randint(3, 5))
            _weekly(person, rng)
            person.availability_note = rng.choice(NOTES)
            person.monthly_meeting_cap = rng.choice([None, None, 4, 6])
        if person.is_mentee:
            others = [d for d in departments if d != person.department]
            pool = DEPARTMENTS[rng.choice(others)][1] + dept_skills + GENERAL_SKILLS
            for name in sorted(set(rng.sample(pool, 3)))[: rng.randint(1, 3)]:
                _add_skill(session, person, name, SkillRelation.WANTS, rng.randint(3, 4))
                _add_skill(session, person, name, SkillRelation.HAS, rng.randint(1, 2))
            # Managers: a mentor of the same department, where there is one.
            bosses = [
                p for p in people if p.is_mentor and p.department == person.department and p is not person
            ]
            if bosses and rng.random() < 0.6:
                person.manager_id = rng.choice(bosses).id

    mentors = [p for p in people if p.is_mentor]
    for mentor in rng.sample(mentors, 4):
        day = (now + timedelta(days=rng.randint(3, 12))).astimezone(ZoneInfo(mentor.time_zone)).date()
        start = datetime.combine(day, time(rng.choice([16, 17])), tzinfo=ZoneInfo(mentor.time_zone))
        session.add(DatedSlot(mentor_id=mentor.id, start_at=start, end_at=start + timedelta(hours=1)))
    session.flush()
    return people


def _add_skill(session: Session, person: Person, name: str, relation: SkillRelation, level: int) -> None:
    skill = get_or_create_skill(session, name)
    person.skills.append(PersonSkill(skill=skill, skill_id=skill.id, relation=relation, level=level))


def _weekly(person: Person, rng: random.Random) -> None:
    """Two to four weekday slots of 1-3 hours inside local working hours (one per day: no overlaps)."""
    for weekday in sorted(rng.sample(range(5), rng.randint(2, 4))):
        start_hour = rng.randint(8, 14)
        person.weekly_slots.append(
            WeeklySlot(
                weekday=weekday,
                start_time=time(start_hour),
                end_time=time(start_hour + rng.randint(1, 3)),
                time_zone=person.time_zone,
            )
        )


def _next_slot(mentor: Person, after: datetime, slot_minutes: int) -> tuple[datetime, datetime]:
    """The first start of one of the mentor's weekly slots after ``after``, as an aware UTC range."""
    zone = ZoneInfo(mentor.time_zone)
    local_day: date = after.astimezone(zone).date()
    for offset in range(1, 15):
        day = local_day + timedelta(days=offset)
        for slot in sorted(mentor.weekly_slots, key=lambda w: w.start_time):
            if slot.weekday == day.weekday():
                start = datetime.combine(day, slot.start_time, tzinfo=zone)
                if start > after:
                    return start, start + timedelta(minutes=slot_minutes)
    raise ValueError(f"{mentor.email} has no weekly slots")


def _free_slot(
    mentor: Person, mentee: Person, after: datetime, minutes: int, taken: set[tuple[int, datetime]]
) -> tuple[datetime, datetime]:
    """The mentor's next slot that neither person has used in the demo yet (all start on the hour
    or half hour and last one slot, so distinct starts never overlap)."""
    while True:
        start, end = _next_slot(mentor, after, minutes)
        if (mentor.id, start) not in taken and (mentee.id, start) not in taken:
            taken.update({(mentor.id, start), (mentee.id, start)})
            return start, end
        after = start


def _requests(
    session: Session, rng: random.Random, program: Program, people: list[Person], now: datetime
) -> DemoSummary:
    mentors = [p for p in people if p.is_mentor and p.weekly_slots]
    mentees = [p for p in people if p.is_mentee and not p.is_mentor]
    star_mentor = next(p for p in people if p.email == LOGINS["mentor"])
    star_mentee = next(p for p in people if p.email == LOGINS["mentee"])
    others = [m for m in mentors if m is not star_mentor]
    rng.shuffle(others)
    other_mentees = [m for m in mentees if m is not star_mentee]
    rng.shuffle(other_mentees)
    minutes = program.slot_minutes
    summary = DemoSummary()
    taken: set[tuple[int, datetime]] = set()
    plan: list[tuple[str, Person, Person]] = [
        ("pending", star_mentee, star_mentor),
        ("accepted", star_mentee, others[0]),
        ("declined", star_mentee, others[1]),
        ("pending", other_mentees[0], star_mentor),
        ("countered", other_mentees[1], star_mentor),
        ("accepted", other_mentees[2], star_mentor),
        ("pending", other_mentees[3], others[2]),
        ("expired", other_mentees[4], others[3]),
        ("withdrawn", other_mentees[5], others[4]),
        ("completed", other_mentees[6], others[5]),
        ("accepted", other_mentees[7], others[6]),
    ]
    for n, (state, mentee, mentor) in enumerate(plan, start=1):
        age_days = {"expired": 15, "completed": 20}.get(state, rng.randint(0, 2))
        created = now - timedelta(days=age_days, hours=n)
        earliest = created + timedelta(days=2) if state == "completed" else now + timedelta(days=2, hours=n)
        start, end = _free_slot(mentor, mentee, earliest, minutes, taken)
        topic = TOPICS[(n - 1) % len(TOPICS)]
        request = MeetingRequest(
            program_id=program.id,
            mentee_id=mentee.id,
            mentor_id=mentor.id,
            initiated_by=Initiator.MENTEE,
            topic=topic,
            description=f"I would like 30 minutes to talk about: {topic.lower()}.",
            goals=GOALS[(n - 1) % len(GOALS)],
            skill_id=next((ps.skill_id for ps in mentor.skills if ps.relation == SkillRelation.OFFERS), None),
            mode=rng.choice(list(MeetingMode)),
            location="",
            state=RequestState.PENDING,
            created_at=created,
        )
        if request.mode == MeetingMode.IN_PERSON:
            request.location = f"{mentor.region} office, room {rng.randint(1, 9)}"
        request.proposed_times.append(ProposedTime(start_at=start, end_at=end, proposed_by=Initiator.MENTEE))
        answered = created + timedelta(hours=rng.randint(2, 30))
        if state == "countered":
            later_start, later_end = _free_slot(mentor, mentee, end + timedelta(days=1), minutes, taken)
            request.proposed_times.append(
                ProposedTime(start_at=later_start, end_at=later_end, proposed_by=Initiator.MENTOR)
            )
            request.state, request.answered_at = RequestState.COUNTERED, answered
        elif state == "declined":
            request.state, request.answered_at, request.closed_at = RequestState.DECLINED, answered, answered
            request.decline_reason = DeclineReason.NOT_MY_EXPERTISE
            request.decline_message = "This is outside what I know well; try someone in Finance."
        elif state == "expired":
            request.state, request.closed_at = RequestState.EXPIRED, created + timedelta(days=14)
        elif state == "withdrawn":
            request.state, request.closed_at = RequestState.WITHDRAWN, answered
        elif state in ("accepted", "completed"):
            request.state, request.answered_at, request.closed_at = RequestState.ACCEPTED, answered, answered
        session.add(request)
        session.flush()
        if state in ("accepted", "completed"):
            meeting = Meeting(
                request_id=request.id,
                program_id=program.id,
                mentor_id=mentor.id,
                mentee_id=mentee.id,
                start_at=start,
                end_at=end,
                state=MeetingState.COMPLETED if state == "completed" else MeetingState.SCHEDULED,
                topic=topic,
                mode=request.mode,
                location=request.location,
                uid=f"demo-meeting-{n}@flashmentor",
                created_at=answered,
                updated_at=answered,
            )
            if request.mode == MeetingMode.VIDEO and not request.location:
                meeting.video_url = DEMO_VIDEO_TEMPLATE.format(room=video.room_name(meeting.uid))
            session.add(meeting)
            if state == "completed":  # it closed with an agreed next step (seed 001 practice)
                meeting.action_plan = ("Write down the two options, ask one colleague about each, "
                                       "meet again in a month.")
                meeting.action_plan_by_id, meeting.action_plan_at = mentor.id, end + timedelta(hours=1)
                session.flush()
                _answer_surveys(session, program, meeting, rng)
        key = request.state.value if state != "completed" else "accepted (meeting held)"
        summary.requests[key] = summary.requests.get(key, 0) + 1
    session.flush()
    return summary


SURVEY_COMMENTS = (
    "Concrete advice I can use this week.",
    "Good questions; we should have shared an agenda first.",
)


def _answer_surveys(session: Session, program: Program, meeting: Meeting, rng: random.Random) -> None:
    """Both sides answered the held meeting's survey, so the report has results to show."""
    sent = meeting.end_at + timedelta(hours=2)
    for invitation, comment in zip(surveys.invite(session, meeting, now=sent), SURVEY_COMMENTS, strict=True):
        questions = surveys.questions_for(session, program, invitation.variant,
                                          surveys.audience_of(meeting, invitation.person_id))
        answers: dict[str, object] = {}
        for q in questions:
            if q.kind == QuestionKind.TOOK_PLACE:
                answers[str(q.id)] = True
            elif q.kind == QuestionKind.RATING:
                answers[str(q.id)] = rng.randint(4, 5)
            elif q.kind == QuestionKind.CHOICE:
                answers[str(q.id)] = q.choices[0]
            else:
                answers[str(q.id)] = comment
        parsed = surveys.check_answers(questions, answers, invitation.variant)
        surveys.store_answers(session, invitation, questions, parsed, now=sent + timedelta(hours=3))


def describe(summary: DemoSummary) -> str:
    """The lines the CLI prints after loading."""
    requests = ", ".join(f"{n} {state}" for state, n in sorted(summary.requests.items()))
    lines = [
        f"Demo program loaded: {summary.people} people; roles overlap (a person may be mentor and mentee): "
        f"{summary.mentors} are mentors, {summary.mentees} mentees, {summary.admins} admins.",
    ]
    if requests:
        lines.append(f"Requests: {requests}.")
    lines.append(f"Sign in with any of these (password: {summary.password}):")
    lines += [f"  {role:<7} {email}" for role, email in summary.logins.items()]
    return "\n".join(lines)
