/**
 * Israeli cities and towns, each row `[canonical, ...aliases]`. The canonical name is the
 * spelling of the Central Bureau of Statistics (CBS) locality list, including its hyphens,
 * its full spelling (קריית, תקווה) and its ASCII apostrophe (סח'נין); the one departure is
 * `תל אביב-יפו`, which the CBS prints with a stray space. Aliases are short forms, older
 * names, English transliterations and, for the larger Arab towns, the Arabic name.
 *
 * Spellings that differ only in what `cityKey` folds away (niqqud, hyphens, doubled yod or
 * vav, letter case, the apostrophe in a transliteration) are not listed twice.
 */
const cities: readonly (readonly string[])[] = [
  ['תל אביב-יפו', 'תל אביב', 'ת"א', 'ת"א-יפו', 'יפו', 'Tel Aviv', 'Tel Aviv-Yafo', 'Tel Aviv-Jaffa', 'TLV', 'Jaffa',
    'Yafo', 'تل أبيب', 'يافا'],
  ['ירושלים', 'י-ם', 'Jerusalem', 'Yerushalayim', 'القدس'],
  ['חיפה', 'Haifa', 'حيفا'],
  ['ראשון לציון', 'ראשון', 'ראשל"צ', 'רשל"צ', 'Rishon LeZion', 'Rishon Le Zion', 'Rishon Letzion', 'Rishon'],
  ['פתח תקווה', 'פ"ת', 'Petah Tikva', 'Petach Tikva', 'Petah Tikvah', 'Petach Tikvah', 'Petah Tiqwa'],
  ['באר שבע', 'ב"ש', 'Beersheba', 'Beer Sheva', 'Beersheva', 'Beer Sheba', 'بئر السبع'],
  ['בני ברק', 'ב"ב', 'Bnei Brak', 'Bnei Berak', 'Bene Beraq'],
  ['רמת גן', 'ר"ג', 'Ramat Gan'],
  ['גבעתיים', 'Givatayim', 'Givataim'],
  ['הרצליה', 'Herzliya', 'Herzlia', 'Herzliyya'],
  ['כפר סבא', 'כ"ס', 'Kfar Saba', 'Kfar Sava', 'Kefar Sava'],
  ['רעננה', 'Raanana', 'Ranana'],
  ['הוד השרון', 'Hod HaSharon'],
  ['רמת השרון', 'Ramat HaSharon'],
  ['נתניה', 'Netanya', 'Natanya', 'Netania'],
  ['אשדוד', 'Ashdod'],
  ['אשקלון', 'Ashkelon', 'Ashqelon'],
  ['חולון', 'Holon'],
  ['בת ים', 'Bat Yam'],
  ['רחובות', 'Rehovot', 'Rehovoth'],
  ['נס ציונה', 'Ness Ziona', 'Nes Ziona', 'Nes Tziona'],
  ['מודיעין-מכבים-רעות', 'מודיעין', 'Modiin', 'Modiin-Maccabim-Reut'],
  ['מודיעין עילית', 'מודיעין עלית', 'קריית ספר', 'Modiin Illit', 'Modiin Ilit'],
  ['בית שמש', 'Beit Shemesh', 'Bet Shemesh'],
  ['קריית גת', 'ק"ג', 'Kiryat Gat', 'Qiryat Gat'],
  ['קריית שמונה', 'ק"ש', 'Kiryat Shmona', 'Kiryat Shemona', 'Qiryat Shemona'],
  ['קריית אתא', 'Kiryat Ata', 'Qiryat Ata'],
  ['קריית ביאליק', 'Kiryat Bialik', 'Qiryat Bialik'],
  ['קריית מוצקין', 'Kiryat Motzkin', 'Qiryat Motzkin'],
  ['קריית ים', 'Kiryat Yam', 'Qiryat Yam'],
  ['קריית אונו', 'Kiryat Ono', 'Qiryat Ono'],
  ['קריית מלאכי', 'Kiryat Malakhi', 'Kiryat Malachi'],
  ['קריית טבעון', 'טבעון', 'Kiryat Tivon', 'Tivon'],
  ['קריית עקרון', 'Kiryat Ekron'],
  ['נהריה', 'Nahariya', 'Nahariyya'],
  ['עכו', 'Acre', 'Akko', 'Acco', 'عكا'],
  ['כרמיאל', 'Karmiel', 'Carmiel'],
  ['צפת', 'Safed', 'Tzfat', 'Tsfat', 'Zefat'],
  ['טבריה', 'Tiberias', 'Tveria'],
  ['עפולה', 'Afula'],
  ['נצרת', 'Nazareth', 'الناصرة'],
  ['נוף הגליל', 'נצרת עילית', 'נצרת עלית', 'Nof HaGalil', 'Nazareth Illit', 'Upper Nazareth', 'Natzrat Illit'],
  ['מגדל העמק', 'Migdal HaEmek'],
  ['יקנעם עילית', 'יקנעם', 'יוקנעם', 'יוקנעם עילית', 'יקנעם עלית', 'Yokneam', 'Yokneam Illit', 'Yoqneam Illit'],
  ['בית שאן', 'Beit Shean', 'Bet Shean'],
  ['קצרין', 'Katzrin', 'Qatzrin'],
  ['מעלות-תרשיחא', 'מעלות', 'Maalot-Tarshiha', 'Maalot'],
  ['טירת כרמל', 'טירת הכרמל', 'Tirat Carmel'],
  ['נשר', 'Nesher'],
  ['רמת ישי', 'Ramat Yishai'],
  ['חדרה', 'Hadera'],
  ['אור עקיבא', 'Or Akiva'],
  ['זכרון יעקב', 'זיכרון יעקב', 'Zikhron Yaakov', 'Zichron Yaakov', 'Zikhron Yaacov'],
  ['בנימינה-גבעת עדה', 'בנימינה', 'Binyamina', 'Binyamina-Givat Ada'],
  ['פרדס חנה-כרכור', 'פרדס חנה', 'Pardes Hanna-Karkur', 'Pardes Hanna', 'Pardes Hana'],
  ['חריש', 'Harish'],
  ['כפר יונה', 'Kfar Yona', 'Kfar Yonah'],
  ['אבן יהודה', 'Even Yehuda'],
  ['קדימה-צורן', 'קדימה', 'Kadima-Zoran', 'Kadima'],
  ['ראש העין', 'Rosh HaAyin', 'Rosh Haayin'],
  ['אלעד', 'Elad'],
  ['שוהם', 'שהם', 'Shoham'],
  ['אור יהודה', 'Or Yehuda'],
  ['יהוד-מונוסון', 'יהוד', 'Yehud', 'Yehud-Monosson', 'Yehud-Monoson'],
  ['גני תקווה', 'Ganei Tikva', 'Ganei Tikvah'],
  ['גבעת שמואל', 'Givat Shmuel'],
  ['לוד', 'Lod', 'Lydda', 'اللد'],
  ['רמלה', 'Ramla', 'Ramle', 'الرملة'],
  ['באר יעקב', 'Beer Yaakov'],
  ['יבנה', 'Yavne', 'Yavneh'],
  ['גן יבנה', 'Gan Yavne', 'Gan Yavneh'],
  ['גדרה', 'Gedera'],
  ['מזכרת בתיה', 'Mazkeret Batya'],
  ['אופקים', 'Ofakim'],
  ['נתיבות', 'Netivot'],
  ['שדרות', 'Sderot', 'Sederot'],
  ['אילת', 'Eilat', 'Elat'],
  ['דימונה', 'Dimona'],
  ['ערד', 'Arad'],
  ['ירוחם', 'Yeruham', 'Yerucham'],
  ['רהט', 'Rahat', 'رهط'],
  ['תל שבע', 'Tel Sheva', 'تل السبع'],
  ['חורה', 'Hura', 'حورة'],
  ['לקיה', 'Lakiya', 'Laqye', 'اللقية'],
  ['כסיפה', 'Kuseife', 'Kseife', 'كسيفة'],
  ['מבשרת ציון', 'מבשרת', 'Mevaseret Zion', 'Mevasseret Zion'],
  ['ביתר עילית', 'ביתר', 'ביתר עלית', 'Beitar Illit', 'Betar Illit'],
  ['מעלה אדומים', 'Maale Adumim'],
  ['גבעת זאב', 'Givat Zeev'],
  ['אפרת', 'Efrat'],
  ['אריאל', 'Ariel'],
  ['אום אל-פחם', 'Umm al-Fahm', 'Umm el-Fahem', 'أم الفحم'],
  ['באקה אל-גרביה', 'באקה', 'Baqa al-Gharbiyye', 'Baqa al-Gharbiyya', 'باقة الغربية'],
  ['טייבה', 'Tayibe', 'Taibe', 'Tayibeh', 'الطيبة'],
  ['טירה', 'Tira', 'Tireh', 'الطيرة'],
  ['קלנסווה', 'Qalansawe', 'Kalansua', 'قلنسوة'],
  ['כפר קאסם', 'כפר קסם', 'Kafr Qasim', 'Kfar Qasim', 'Kafr Kassem', 'كفر قاسم'],
  ["סח'נין", 'סחנין', 'Sakhnin', 'سخنين'],
  ['שפרעם', 'Shefa-Amr', 'Shfaram', 'Shefaram', 'شفاعمرو', 'شفا عمرو'],
  ['טמרה', 'Tamra', 'طمرة'],
  ['עראבה', 'Arraba', 'Arrabe', 'عرابة'],
  ['מגאר', "מע'אר", 'Maghar', 'Mghar', 'المغار'],
  ['כפר כנא', 'Kafr Kanna', 'Kfar Kana', 'كفر كنا'],
  ["ג'דיידה-מכר", 'Jadeidi-Makr', 'Judeida-Makr', 'الجديدة-المكر'],
  ['דאלית אל-כרמל', 'דלית אל-כרמל', 'Daliyat al-Karmel', 'دالية الكرمل'],
  ['עוספיא', 'Isfiya', 'Usfiya', 'عسفيا'],
];

/** The canonical names, for prompts ("answer with one of these spellings when the city is one of them"). */
export const israeliCities: readonly string[] = cities.map(([canonical]) => canonical!);

/**
 * The form two spellings of one name share: marks stripped (niqqud, Arabic harakat, Latin
 * accents), hyphens, maqaf and dashes read as spaces, doubled yod and vav single (the
 * defective and full spellings, קרית/קריית), Latin lowercased without apostrophes
 * (Ra'anana/Raanana), Arabic alef and ta marbuta forms unified. Expects tidied input.
 * Prefixes (ב, ל, מ, ה) are never stripped: באר שבע and הרצליה begin with them.
 */
function cityKey(tidied: string): string {
  return tidied
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/(?<=[a-z])'|'(?=[a-z])/g, '')
    .replace(/[-־‐‑–—\s]+/g, ' ')
    .replace(/יי/g, 'י')
    .replace(/וו/g, 'ו')
    .replace(/ـ/g, '')
    .replace(/ة/g, 'ه')
    .replace(/ى/g, 'ي')
    .trim();
}

const edgePunctuation = /^[\s.,;:!?()[\]\-־–—]+|[\s.,;:!?()[\]\-־–—]+$/g;

/**
 * Trimmed, whitespace collapsed, direction and zero-width marks removed, quote marks as
 * ASCII `"` and `'` (as the CBS writes them), stray punctuation at either end dropped, and
 * quotes around the whole name dropped (a quote at one end only may belong to the name).
 */
function tidy(name: string): string {
  return name
    .replace(/[\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g, '')
    .replace(/[׳‘’`´]/g, "'")
    .replace(/[״“”„]|''/g, '"')
    .replace(/\s+/g, ' ')
    .replace(edgePunctuation, '')
    .replace(/^(["'])(.*)\1$/, '$2')
    .replace(edgePunctuation, '');
}

/** Every folded spelling → its canonical name. A spelling claimed by two cities is a data error. */
const canonicalByKey = new Map<string, string>();
for (const [canonical, ...aliases] of cities) {
  for (const spelling of [canonical!, ...aliases]) {
    const key = cityKey(tidy(spelling));
    const claimed = canonicalByKey.get(key);
    if (claimed !== undefined && claimed !== canonical) {
      throw new Error(`cities: "${spelling}" is listed under both ${claimed} and ${canonical}`);
    }
    canonicalByKey.set(key, canonical!);
  }
}

/**
 * The common Hebrew spelling of an Israeli city (`קרית גת`, `Kiryat Gat`, `ק"ג` → `קריית גת`),
 * or the input tidied (trimmed, whitespace collapsed, quote marks unified) when it is not one
 * we know — an unknown name is kept, never matched to a near one; null for empty input.
 */
export function normalizeCity(name: string | null | undefined): string | null {
  if (!name) return null;
  const tidied = tidy(name);
  if (!tidied) return null;
  return canonicalByKey.get(cityKey(tidied)) ?? tidied;
}
