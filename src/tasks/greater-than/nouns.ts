/**
 * The 120 event nouns of the greater-than template (Hanna, Liu & Variengien 2023), in alphabetical
 * order. Each is a single GPT-2 token once a space is put before it (" war").
 */
export const GREATER_THAN_NOUNS: readonly string[] = Object.freeze([
  "abduction", "accord", "affair", "agreement", "appraisal", "assaults", "assessment", "attack",
  "attempts", "campaign", "captivity", "case", "challenge", "chaos", "clash", "collaboration",
  "coma", "competition", "confrontation", "consequence", "conspiracy", "construction",
  "consultation", "contact", "contract", "convention", "cooperation", "custody", "deal", "decline",
  "decrease", "demonstrations", "development", "disagreement", "disorder", "dispute", "domination",
  "dynasty", "effect", "effort", "employment", "endeavor", "engagement", "epidemic", "evaluation",
  "exchange", "existence", "expansion", "expedition", "experiments", "fall", "fame", "flights",
  "friendship", "growth", "hardship", "hostility", "illness", "impact", "imprisonment",
  "improvement", "incarceration", "increase", "insurgency", "invasion", "investigation", "journey",
  "kingdom", "marriage", "modernization", "negotiation", "notoriety", "obstruction", "operation",
  "order", "outbreak", "outcome", "overhaul", "patrols", "pilgrimage", "plague", "plan",
  "practice", "process", "program", "progress", "project", "pursuit", "quest", "raids", "reforms",
  "reign", "relationship", "retaliation", "riot", "rise", "rivalry", "romance", "rule",
  "sanctions", "shift", "siege", "slump", "stature", "stint", "strikes", "study", "test",
  "testing", "tests", "therapy", "tour", "tradition", "treaty", "trial", "trip", "unemployment",
  "voyage", "warfare", "work",
]);
