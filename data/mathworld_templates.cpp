// The template tables (format in mathworld_templates.h). Sentences are short on purpose: the
// quickstart pretrains a ~1M-parameter model for minutes, and every token of boilerplate is a token
// not spent on the numbers it has to learn to copy.
#include "data/mathworld_templates.h"

namespace chamber::mathworld {

int form_ops(Form f) {
  switch (f) {
    case Form::A: return 0;
    case Form::ABC: case Form::XPlusAB: case Form::XMinusAB: return 2;
    case Form::XMinusPct: case Form::XPlusPct: return 3;
    default: return 1;
  }
}

int form_args(Form f) {
  switch (f) {
    case Form::A: case Form::XPlusA: case Form::XMinusA: case Form::XTimesA: case Form::XDivA:
    case Form::XMinusPct: case Form::XPlusPct: case Form::AMinusX: return 1;
    case Form::ABC: return 3;
    default: return 2;
  }
}

static ArgSpec num(int lo, int hi, int llo, int lhi, const char* var) { return {Arg::Num, lo, hi, llo, lhi, var}; }
static ArgSpec div(int lo, int hi, int llo, int lhi, const char* var) { return {Arg::Divisor, lo, hi, llo, lhi, var}; }
static ArgSpec pct(const char* var) { return {Arg::Percent, 0, 0, 0, 0, var}; }
static ArgSpec konst(int v) { return {Arg::Const, v, v, v, v, ""}; }
static ArgSpec above(const char* var) { return {Arg::AboveX, 0, 0, 0, 0, var}; }

static std::vector<Theme> build() {
  std::vector<Theme> t;
  t.push_back(Theme{
      "money", "Counting money", "money", "How many dollars does {N} have now?", "dollars", {},
      {{"{N} has ${a}.", Form::A, {num(20, 90, 100, 990, "money")}, ""},
       {"{N} earns ${a} an hour for {b} hours.", Form::AB, {num(5, 15, 10, 45, "pay_per_hour"), num(2, 8, 5, 40, "hours")},
        "{P} earns {e1} dollars."},
       {"{N} saves ${a} a week for {b} weeks.", Form::AB, {num(3, 12, 10, 60, "weekly_savings"), num(2, 9, 4, 30, "weeks")},
        "{P} saves {e1} dollars."}},
      {{"{P} spends ${a} on a book.", Form::XMinusA, {num(2, 15, 10, 99, "book_price")}, "After the book {p} has {e1} dollars."},
       {"{P} buys {a} pens at ${b} each.", Form::XMinusAB, {num(2, 6, 2, 12, "pens"), num(1, 5, 2, 20, "pen_price")},
        "The pens cost {e1} dollars, so {p} has {e2} dollars left."},
       {"{F} gives {o} ${a}.", Form::XPlusA, {num(2, 20, 10, 200, "gift")}, "With the gift {p} has {e1} dollars."},
       {"{P} sells {a} toys for ${b} each.", Form::XPlusAB, {num(2, 6, 3, 15, "toys_sold"), num(1, 8, 5, 40, "toy_price")},
        "The toys bring in {e1} dollars, so {p} has {e2} dollars."},
       {"{P} spends {a}% of {s} money on a gift.", Form::XMinusPct, {pct("percent")},
        "The gift costs {e1}, {e2} dollars, so {p} has {e3} dollars left."},
       {"{P} splits {s} money into {a} equal parts and keeps one.", Form::XDivA, {div(2, 5, 2, 10, "parts")},
        "One part is {e1} dollars."},
       {"{P} gets a {a}% raise on it.", Form::XPlusPct, {pct("raise_percent")},
        "The raise is {e1}, {e2} dollars, so {p} has {e3} dollars."}},
      {{"A bike costs ${a}. How many more dollars does {N} need?", Form::AMinusX, {above("bike_price")},
        "{P} needs {e1} more dollars."},
       {"How many cents is that?", Form::XTimesA, {konst(100)}, "That is {e1} cents."}}});

  t.push_back(Theme{
      "items", "Counting things", "{I}", "How many {I} does {N} have now?", "{I}",
      {"apples", "marbles", "stickers", "cards", "shells", "pencils", "cookies", "stamps", "beads", "books"},
      {{"{N} has {a} {I}.", Form::A, {num(5, 40, 50, 900, "{I}")}, ""},
       {"{N} has {a} boxes of {I} with {b} in each box.", Form::AB, {num(2, 6, 3, 25, "boxes"), num(2, 10, 6, 40, "per_box")},
        "{P} has {e1} {I}."}},
      {{"{P} finds {a} more {I}.", Form::XPlusA, {num(2, 15, 10, 150, "found")}, "{P} now has {e1} {I}."},
       {"{P} gives {a} {I} to {F}.", Form::XMinusA, {num(1, 10, 5, 99, "given")}, "After that {p} has {e1} {I}."},
       {"{P} buys {a} packs of {b} {I}.", Form::XPlusAB, {num(2, 5, 2, 12, "packs"), num(2, 10, 5, 30, "per_pack")},
        "The packs hold {e1} {I}, so {p} has {e2} {I}."},
       {"{P} gives away {a} bags of {b} {I}.", Form::XMinusAB, {num(2, 4, 2, 10, "bags"), num(2, 6, 3, 20, "per_bag")},
        "{P} gives away {e1} {I} and keeps {e2}."},
       {"{P} splits the {I} into {a} equal piles and keeps one pile.", Form::XDivA, {div(2, 5, 2, 12, "piles")},
        "One pile has {e1} {I}."},
       {"{F} gives {o} enough {I} to have {a} times as many.", Form::XTimesA, {num(2, 3, 2, 5, "times")},
        "Now {p} has {e1} {I}."},
       {"{P} loses {a} {I}.", Form::XMinusA, {num(1, 9, 5, 80, "lost")}, "{P} has {e1} {I} left."}},
      {{"{P} puts them in bags of {a}. How many bags can {p} fill?", Form::XDivA, {div(2, 10, 3, 25, "bag_size")},
        "{P} fills {e1} bags."}}});

  t.push_back(Theme{
      "travel", "Distances", "distance", "How many km does the {V} travel?", "km", {"car", "bus", "train", "bike", "boat"},
      {{"A {V} goes {a} km per hour for {b} hours.", Form::AB, {num(10, 60, 40, 120, "speed"), num(2, 5, 2, 12, "hours")},
        "It goes {e1} km."},
       {"A {V} goes {a} km in the morning.", Form::A, {num(10, 90, 100, 900, "distance")}, ""}},
      {{"Then it goes {a} km more.", Form::XPlusA, {num(5, 40, 20, 300, "extra")}, "So far it has gone {e1} km."},
       {"Then it goes {a} km per hour for {b} more hours.", Form::XPlusAB, {num(10, 50, 30, 110, "speed_2"), num(2, 4, 2, 9, "hours_2")},
        "This part is {e1} km, so it goes {e2} km in all."},
       {"It makes the same trip {a} times.", Form::XTimesA, {num(2, 4, 2, 6, "trips")}, "In total it goes {e1} km."},
       {"A shortcut saves {a} km.", Form::XMinusA, {num(2, 9, 5, 60, "saved")}, "With the shortcut it goes {e1} km."}},
      {{"How many meters is that?", Form::XTimesA, {konst(1000)}, "That is {e1} meters."}}});

  t.push_back(Theme{
      "time", "Time spent", "hours", "How many hours does {N} spend?", "hours", {},
      {{"{N} works {a} hours a day for {b} days.", Form::AB, {num(2, 8, 4, 12, "hours_per_day"), num(2, 7, 5, 30, "days")},
        "{P} works {e1} hours."},
       {"{N} practices piano {a} hours a week for {b} weeks.", Form::AB, {num(2, 6, 3, 15, "weekly_hours"), num(2, 8, 4, 52, "weeks")},
        "{P} practices {e1} hours."}},
      {{"{P} adds {a} hours on the weekend.", Form::XPlusA, {num(1, 9, 5, 40, "extra_hours")}, "That makes {e1} hours."},
       {"{P} misses {a} hours.", Form::XMinusA, {num(1, 6, 3, 30, "missed")}, "{P} spends {e1} hours."},
       {"{P} also helps {a} hours a day for {b} days.", Form::XPlusAB, {num(1, 4, 2, 8, "help_hours"), num(2, 6, 3, 20, "help_days")},
        "Helping takes {e1} hours, so the total is {e2} hours."}},
      {{"How many minutes is that?", Form::XTimesA, {konst(60)}, "That is {e1} minutes."},
       {"{P} is paid ${a} an hour. How many dollars does {p} earn?", Form::XTimesA, {num(5, 20, 10, 50, "pay")},
        "{P} earns {e1} dollars."}}});

  t.push_back(Theme{
      "ages", "Ages", "age", "How old is {S}?", "years", {},
      {{"{N} is {a} years old.", Form::A, {num(3, 15, 10, 60, "age")}, ""},
       {"{N} is {a} years older than {s} brother, who is {b}.", Form::APlusB, {num(2, 9, 3, 30, "gap"), num(2, 12, 5, 50, "brother_age")},
        "{N} is {e1} years old."}},
      {{"{S2} is {a} years older than {S}.", Form::XPlusA, {num(2, 30, 5, 60, "older_by")}, "{S2} is {e1} years old.", true},
       {"{S2} is {a} years younger than {S}.", Form::XMinusA, {num(1, 9, 2, 40, "younger_by")}, "{S2} is {e1} years old.", true},
       {"{S2} is {a} times as old as {S}.", Form::XTimesA, {num(2, 4, 2, 5, "times")}, "{S2} is {e1} years old.", true},
       {"{S2} is half as old as {S}.", Form::XDivA, {konst(2)}, "{S2} is {e1} years old.", true}},
      {{"How old will {S} be in {a} years?", Form::XPlusA, {num(2, 10, 5, 50, "years_later")}, "{S} will be {e1}."},
       {"How old was {S} {a} years ago?", Form::XMinusA, {num(1, 5, 2, 30, "years_ago")}, "{S} was {e1}."}}});

  t.push_back(Theme{
      "factory", "Production", "{I}", "How many {I} are there now?", "{I}", {"toys", "cups", "shirts", "chairs", "bottles", "bricks"},
      {{"A machine makes {a} {I} an hour and runs {b} hours a day for {c} days.", Form::ABC,
        {num(2, 9, 10, 60, "per_hour"), num(2, 8, 4, 16, "hours"), num(2, 5, 3, 20, "days")},
        "It makes {e1} {I} a day and {e2} {I} in all."},
       {"A shop makes {a} {I} a day for {b} days.", Form::AB, {num(3, 20, 20, 200, "per_day"), num(2, 7, 5, 30, "days")},
        "The shop makes {e1} {I}."}},
      {{"{a} of the {I} are broken.", Form::XMinusA, {num(1, 9, 5, 90, "broken")}, "{e1} {I} are good."},
       {"A second machine makes {a} more.", Form::XPlusA, {num(3, 30, 20, 400, "more")}, "Now there are {e1} {I}."},
       {"{a}% of the {I} are sold.", Form::XMinusPct, {pct("sold_percent")}, "Sold: {e1}, {e2}. Left: {e3} {I}."},
       {"The shop gets {a} crates of {b} {I}.", Form::XPlusAB, {num(2, 5, 2, 15, "crates"), num(2, 10, 6, 40, "per_crate")},
        "The crates hold {e1} {I}, so there are {e2}."}},
      {{"They are packed in boxes of {a}. How many boxes are filled?", Form::XDivA, {div(2, 10, 4, 50, "box_size")},
        "They fill {e1} boxes."}}});

  t.push_back(Theme{
      "garden", "A garden", "plants", "How many plants are in the garden?", "plants", {},
      {{"{N}'s garden has {a} rows of {b} plants.", Form::AB, {num(2, 8, 5, 30, "rows"), num(2, 9, 5, 40, "per_row")},
        "There are {e1} plants."}},
      {{"{a} plants die.", Form::XMinusA, {num(1, 6, 3, 50, "dead")}, "{e1} plants are left."},
       {"{N} plants {a} more rows of {b}.", Form::XPlusAB, {num(2, 4, 2, 10, "new_rows"), num(2, 8, 5, 30, "new_per_row")},
        "The new rows have {e1} plants, so there are {e2}."},
       {"{P} adds {a} plants.", Form::XPlusA, {num(1, 12, 5, 90, "added")}, "Now there are {e1} plants."}},
      {{"Each plant gives {a} tomatoes. How many tomatoes are there?", Form::XTimesA, {num(2, 9, 3, 20, "per_plant")},
        "There are {e1} tomatoes."}}});

  t.push_back(Theme{
      "baking", "Baking", "cups", "How many cups of flour does {N} use?", "cups", {},
      {{"A recipe needs {a} cups of flour. {N} makes {b} batches.", Form::AB, {num(2, 5, 2, 9, "cups_per_batch"), num(2, 6, 3, 25, "batches")},
        "{P} needs {e1} cups."}},
      {{"{P} uses {a} more cups for bread.", Form::XPlusA, {num(1, 8, 3, 40, "bread_cups")}, "That makes {e1} cups."},
       {"{P} makes {a} times as much.", Form::XTimesA, {num(2, 3, 2, 5, "times")}, "{P} uses {e1} cups."},
       {"{P} saves {a} cups by using a mix.", Form::XMinusA, {num(1, 3, 2, 20, "saved_cups")}, "{P} uses {e1} cups."}},
      {{"A cup of flour weighs {a} grams. How many grams is that?", Form::XTimesA, {num(110, 130, 110, 130, "grams_per_cup")},
        "That is {e1} grams."},
       {"A bag holds {a} cups. How many bags does {p} need?", Form::XDivA, {div(2, 6, 3, 20, "cups_per_bag")},
        "{P} needs {e1} bags."}}});

  t.push_back(Theme{
      "reading", "Reading", "pages", "How many pages does {N} read?", "pages", {},
      {{"{N} reads {a} pages a day for {b} days.", Form::AB, {num(3, 20, 10, 60, "pages_per_day"), num(2, 7, 5, 30, "days")},
        "{P} reads {e1} pages."}},
      {{"On Sunday {p} reads {a} more pages.", Form::XPlusA, {num(2, 20, 10, 90, "sunday_pages")}, "That makes {e1} pages."},
       {"{P} also reads {a} comics of {b} pages.", Form::XPlusAB, {num(2, 5, 2, 10, "comics"), num(5, 20, 10, 40, "comic_pages")},
        "The comics have {e1} pages, so {p} reads {e2} pages."},
       {"{P} reads it all again {a} times.", Form::XTimesA, {num(2, 3, 2, 4, "times")}, "{P} reads {e1} pages."}},
      {{"The book has {a} pages. How many pages are left?", Form::AMinusX, {above("book_pages")}, "{e1} pages are left."}}});

  t.push_back(Theme{
      "school", "A school", "students", "How many students are there?", "students", {},
      {{"A school has {a} classes of {b} students.", Form::AB, {num(2, 6, 4, 30, "classes"), num(10, 30, 20, 35, "per_class")},
        "There are {e1} students."}},
      {{"{a} students are absent.", Form::XMinusA, {num(1, 9, 5, 60, "absent")}, "{e1} students are present."},
       {"{a} new students join.", Form::XPlusA, {num(1, 12, 5, 90, "joined")}, "Now there are {e1} students."},
       {"Another {a} classes of {b} join.", Form::XPlusAB, {num(2, 3, 2, 8, "new_classes"), num(10, 25, 20, 35, "new_per_class")},
        "They bring {e1} students, so there are {e2}."}},
      {{"They form teams of {a}. How many teams are there?", Form::XDivA, {div(2, 10, 3, 30, "team_size")},
        "There are {e1} teams."},
       {"Each student gets {a} pencils. How many pencils are needed?", Form::XTimesA, {num(2, 5, 2, 12, "pencils_each")},
        "They need {e1} pencils."}}});

  t.push_back(Theme{
      "sports", "Scores", "points", "How many points does {N} have?", "points", {},
      {{"{N} scores {a} points in each of {b} games.", Form::AB, {num(2, 12, 10, 40, "points_per_game"), num(2, 6, 3, 20, "games")},
        "{P} scores {e1} points."},
       {"{N} makes {a} goals worth {b} points each.", Form::AB, {num(2, 9, 5, 30, "goals"), num(2, 3, 2, 7, "goal_points")},
        "{P} gets {e1} points."}},
      {{"{P} gets a bonus of {a} points.", Form::XPlusA, {num(1, 10, 5, 80, "bonus")}, "{P} has {e1} points."},
       {"{P} loses {a} points for a foul.", Form::XMinusA, {num(1, 5, 2, 30, "penalty")}, "{P} has {e1} points."},
       {"{P} also makes {a} shots worth {b} points.", Form::XPlusAB, {num(2, 6, 3, 20, "shots"), num(2, 3, 2, 5, "shot_points")},
        "The shots give {e1} points, so {p} has {e2}."},
       {"In the final {s} points are multiplied by {a}.", Form::XTimesA, {num(2, 3, 2, 4, "multiplier")},
        "{P} ends with {e1} points."}},
      {}});
  return t;
}

const std::vector<Theme>& math_themes() {
  static const std::vector<Theme> themes = build();
  return themes;
}

int math_template_count() {
  int n = 0;
  for (const Theme& t : math_themes()) n += (int)(t.starts.size() + t.middles.size() + t.ends.size());
  return n;
}

}  // namespace chamber::mathworld
