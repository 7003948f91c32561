import { describe, expect, it } from 'vitest';
import { israeliCities, normalizeCity } from '../../src/core/cities.ts';

describe('city names', () => {
  it.each(israeliCities)('keeps the canonical %s as it is', (city) => {
    expect(normalizeCity(city)).toBe(city);
  });

  it.each([
    // Defective and full spellings, niqqud, hyphen, maqaf and dash variants.
    ['קרית גת', 'קריית גת'],
    ['קרית שמונה', 'קריית שמונה'],
    ['פתח תקוה', 'פתח תקווה'],
    ['פתח-תקוה', 'פתח תקווה'],
    ['גני תקוה', 'גני תקווה'],
    ['הרצלייה', 'הרצליה'],
    ['נהרייה', 'נהריה'],
    ['גבעתים', 'גבעתיים'],
    ['זיכרון יעקב', 'זכרון יעקב'],
    ['קלנסוה', 'קלנסווה'],
    ['טיבה', 'טייבה'],
    ['יְרוּשָׁלַיִם', 'ירושלים'],
    ['ירושליים', 'ירושלים'],
    ['חֵיפָה', 'חיפה'],
    ['תל אביב - יפו', 'תל אביב-יפו'],
    ['תל־אביב־יפו', 'תל אביב-יפו'],
    ['תל אביב–יפו', 'תל אביב-יפו'],
    ['מודיעין מכבים רעות', 'מודיעין-מכבים-רעות'],
    ['פרדס חנה כרכור', 'פרדס חנה-כרכור'],
    ['אום אל פחם', 'אום אל-פחם'],
    ['יהוד מונוסון', 'יהוד-מונוסון'],
    // Short forms, acronyms with every kind of gershayim, older names.
    ['תל אביב', 'תל אביב-יפו'],
    ['תל-אביב', 'תל אביב-יפו'],
    ['יפו', 'תל אביב-יפו'],
    ['ת"א', 'תל אביב-יפו'],
    ['ת״א', 'תל אביב-יפו'],
    ['ת”א', 'תל אביב-יפו'],
    ["ת''א", 'תל אביב-יפו'],
    ['ת״א-יפו', 'תל אביב-יפו'],
    ['פ"ת', 'פתח תקווה'],
    ['ראשל״צ', 'ראשון לציון'],
    ['ראשון', 'ראשון לציון'],
    ['ב"ש', 'באר שבע'],
    ['ק״ש', 'קריית שמונה'],
    ['ק"ג', 'קריית גת'],
    ['ב"ב', 'בני ברק'],
    ['י-ם', 'ירושלים'],
    ['מודיעין', 'מודיעין-מכבים-רעות'],
    ['נצרת עילית', 'נוף הגליל'],
    ['נצרת עלית', 'נוף הגליל'],
    ['קרית ספר', 'מודיעין עילית'],
    ['יוקנעם', 'יקנעם עילית'],
    ['ביתר עלית', 'ביתר עילית'],
    ['סחנין', "סח'נין"],
    ['סח׳נין', "סח'נין"],
    ['סח’נין', "סח'נין"],
    // English, in any case and with or without the apostrophe.
    ['Tel Aviv', 'תל אביב-יפו'],
    ['tel-aviv-yafo', 'תל אביב-יפו'],
    ['TEL AVIV', 'תל אביב-יפו'],
    ['Jerusalem', 'ירושלים'],
    ['Haifa', 'חיפה'],
    ['Rishon LeZion', 'ראשון לציון'],
    ['Rishon Lezion', 'ראשון לציון'],
    ['Petah Tikva', 'פתח תקווה'],
    ['Petach Tikva', 'פתח תקווה'],
    ['Beersheba', 'באר שבע'],
    ['Beer Sheva', 'באר שבע'],
    ["Be'er Sheva", 'באר שבע'],
    ['Be’er-Sheva', 'באר שבע'],
    ['Bnei Brak', 'בני ברק'],
    ['ramat gan', 'רמת גן'],
    ['Herzliya', 'הרצליה'],
    ['Kfar Saba', 'כפר סבא'],
    ["Ra'anana", 'רעננה'],
    ['Raanana', 'רעננה'],
    ['Netanya', 'נתניה'],
    ['Ashkelon', 'אשקלון'],
    ['Bat Yam', 'בת ים'],
    ['Eilat', 'אילת'],
    ['Nazareth', 'נצרת'],
    ['Acre', 'עכו'],
    ['Akko', 'עכו'],
    ['Tiberias', 'טבריה'],
    ['Safed', 'צפת'],
    ['Tzfat', 'צפת'],
    ["Modi'in", 'מודיעין-מכבים-רעות'],
    ['Beit Shemesh', 'בית שמש'],
    ['Kiryat Shmona', 'קריית שמונה'],
    ["Shefa-'Amr", 'שפרעם'],
    // Arabic, with and without hamza on the alef.
    ['أم الفحم', 'אום אל-פחם'],
    ['ام الفحم', 'אום אל-פחם'],
    ['الناصرة', 'נצרת'],
    ['سخنين', "סח'נין"],
    ['الطيبه', 'טייבה'],
    // Tidying around a known name.
    ['  חיפה.', 'חיפה'],
    ['באר שבע,', 'באר שבע'],
    ['"רמת גן"', 'רמת גן'],
    ["'חולון'.", 'חולון'],
    ['ראשון   לציון', 'ראשון לציון'],
    ['\u200fחולון\u200f', 'חולון'],
  ])('reads %j as %s', (input, expected) => {
    expect(normalizeCity(input)).toBe(expected);
  });

  it('does not take a leading ב, ל, מ or ה for a prefix', () => {
    expect(normalizeCity('באר שבע')).toBe('באר שבע');
    expect(normalizeCity('הרצליה')).toBe('הרצליה');
    expect(normalizeCity('לוד')).toBe('לוד');
    expect(normalizeCity('מגדל העמק')).toBe('מגדל העמק');
    expect(normalizeCity('בחיפה')).toBe('בחיפה');
  });

  it.each([
    ['כפר ורדים', 'כפר ורדים'],
    ['  כפר   ורדים. ', 'כפר ורדים'],
    ['קיבוץ יגור', 'קיבוץ יגור'],
    ['מושב בית ״עוזיאל״', 'מושב בית "עוזיאל"'],
    ['London', 'London'],
    ['Tel Aviv area', 'Tel Aviv area'],
    ['נצרת עילית העתיקה', 'נצרת עילית העתיקה'],
  ])('keeps the unknown %j as typed, tidied', (input, expected) => {
    expect(normalizeCity(input)).toBe(expected);
  });

  it.each([null, undefined, '', '   ', ' . ', '\u200f'])('has no city for %j', (input) => {
    expect(normalizeCity(input)).toBeNull();
  });

  it('lists each canonical name once, and no two of them fold together', () => {
    // The module throws on load if any spelling folds to two cities; this checks the
    // canonical names themselves are distinct and each is its own answer.
    expect(new Set(israeliCities).size).toBe(israeliCities.length);
    expect(new Set(israeliCities.map(normalizeCity)).size).toBe(israeliCities.length);
  });

  it('writes the CBS spellings: full קריית and תקווה, hyphens where the CBS has them', () => {
    for (const city of israeliCities) {
      expect(city).not.toMatch(/קרית|תקוה/);
      expect(city).toBe(city.trim());
    }
    expect(israeliCities).toEqual(
      expect.arrayContaining(['תל אביב-יפו', 'מודיעין-מכבים-רעות', 'יהוד-מונוסון', 'פרדס חנה-כרכור', 'קדימה-צורן']),
    );
  });
});
