package canon

import (
	"strings"
)

// The names below are knowledge no rule of words has: who makes what is
// asked for when their name comes before it ("nolan movies" are his as
// "movies by nolan" are), and the other spellings of their names ("quentin
// tarantino", "tarantino"). A name is here only when it says one person or
// studio in a media query, and when what it comes before is theirs in
// every reading: film directors who are not known as actors (a name
// before "movies" is otherwise who is in them: "tom hanks movies"),
// animation and game studios, composers. Names that two well-known people
// share ("coppola": Francis Ford or Sofia; "lynch": David or Jane;
// "bergman": Ingmar or Ingrid) are here only in full.

// directorNames are the film directors, each as its aliases would write
// it: a line is the name the rules keep, then, after "=", the other
// spellings that are that name. A surname is another spelling of the full
// name only when nobody else well known in media has it ("nolan" is
// Christopher's films but Jonathan's shows; "wagner" a composer and a
// group; "beethoven" a composer and a dog's films): then both are names
// of their own, and say one thing each.
var directorNames = []string{
	// film directors
	"christopher nolan", "nolan", "spielberg = steven spielberg", "kubrick = stanley kubrick",
	"hitchcock = alfred hitchcock", "tarantino = quentin tarantino", "scorsese = martin scorsese = marty scorsese",
	"akira kurosawa = kurosawa akira", "hayao miyazaki = miyazaki hayao",
	"fincher = david fincher", "villeneuve = denis villeneuve", "david lynch", "david cronenberg",
	"francis ford coppola", "sofia coppola", "wes anderson", "paul thomas anderson", "ridley scott", "tony scott",
	"tim burton", "ang lee", "spike lee", "peter jackson", "james cameron", "zemeckis = robert zemeckis",
	"jonze = spike jonze", "gerwig = greta gerwig", "bong joon ho = bong joonho", "park chan wook",
	"wong kar wai", "zhang yimou", "satoshi kon = kon satoshi", "shinkai = makoto shinkai = shinkai makoto",
	"takahata = isao takahata = takahata isao", "hosoda = mamoru hosoda = hosoda mamoru", "mamoru oshii",
	"guillermo del toro", "cuaron = alfonso cuaron", "inarritu = alejandro gonzalez inarritu = alejandro inarritu",
	"almodovar = pedro almodovar", "varda = agnes varda", "godard = jean luc godard", "truffaut = francois truffaut",
	"fellini = federico fellini", "ingmar bergman", "tarkovsky = andrei tarkovsky", "ozu = yasujiro ozu",
	"kieslowski = krzysztof kieslowski", "herzog = werner herzog", "wenders = wim wenders", "haneke = michael haneke",
	"von trier = lars von trier", "leone = sergio leone", "de palma = brian de palma", "john carpenter",
	"wes craven", "george romero = george a romero", "david lean", "billy wilder", "capra = frank capra",
	"howard hawks", "raimi = sam raimi", "aronofsky = darren aronofsky", "coen brothers = the coen brothers = coens",
	"linklater = richard linklater", "soderbergh = steven soderbergh", "michael mann", "michael bay", "zack snyder",
	"james gunn", "edgar wright", "guy ritchie", "danny boyle", "bigelow = kathryn bigelow", "duvernay = ava duvernay",
	"ari aster", "robert eggers", "lanthimos = yorgos lanthimos", "sciamma = celine sciamma", "chloe zhao",
	"koreeda = hirokazu koreeda = hirokazu kore eda = kore eda", "malick = terrence malick", "fritz lang",
	"eisenstein = sergei eisenstein", "kiarostami = abbas kiarostami", "satyajit ray", "john hughes", "nora ephron",
	"jj abrams", "shyamalan = m night shyamalan = night shyamalan", "tsui hark", "john woo", "johnnie to",
	"jordan peele", "paul verhoeven = verhoeven", "george lucas", "jim jarmusch = jarmusch",
	"jean pierre jeunet = jeunet", "luc besson = besson", "ken loach = loach", "mike leigh", "pasolini = pier paolo pasolini",
	"bertolucci = bernardo bertolucci", "antonioni = michelangelo antonioni", "visconti = luchino visconti",
	"bunuel = luis bunuel", "dreyer = carl theodor dreyer", "bresson = robert bresson", "rohmer = eric rohmer",
	"chabrol = claude chabrol", "jean pierre melville", "mizoguchi = kenji mizoguchi", "naruse = mikio naruse",
	"imamura = shohei imamura", "masaki kobayashi", "ken burns",
}

// studioNames are the studios that make films and shows, gameMakerNames
// those that make games, composerNames the makers of music, written as
// directorNames are.
var studioNames = []string{
	"studio ghibli = ghibli", "pixar = pixar animation studios", "dreamworks = dreamworks animation", "laika",
	"aardman = aardman animations", "blumhouse", "kyoto animation = kyoani", "studio trigger", "madhouse", "ufotable",
}

var gameMakerNames = []string{
	"fromsoftware = fromsoft = from software", "naughty dog", "bethesda", "bioware", "capcom", "square enix",
	"ubisoft", "valve", "blizzard", "hideo kojima = kojima",
}

var composerNames = []string{
	"zimmer = hans zimmer", "john williams", "morricone = ennio morricone", "howard shore", "hisaishi = joe hisaishi",
	"elfman = danny elfman", "mozart = wolfgang amadeus mozart", "ludwig van beethoven", "beethoven",
	"bach = js bach = j s bach = johann sebastian bach", "chopin = frederic chopin", "vivaldi = antonio vivaldi",
	"tchaikovsky = pyotr ilyich tchaikovsky = tschaikowsky", "debussy = claude debussy", "brahms = johannes brahms", "handel",
	"haydn = joseph haydn", "schubert = franz schubert", "mahler = gustav mahler", "richard wagner", "wagner",
	"verdi = giuseppe verdi", "puccini = giacomo puccini", "stravinsky = igor stravinsky", "rachmaninoff = rachmaninov",
	"liszt = franz liszt", "dvorak = antonin dvorak", "philip glass", "ramin djawadi = djawadi", "ludwig goransson = goransson",
	"jonny greenwood", "michael giacchino = giacchino", "alexandre desplat = desplat", "vangelis", "nobuo uematsu = uematsu",
	"koji kondo", "yoko kanno",
}

// authorNames are the writers of books, whose name before "audiobooks"
// is theirs ("stephen king audiobooks" are by him); not the
// narrators and actors known for reading them ("stephen fry audiobooks"),
// nor authors whose name before "movies" would be (films of their books
// are not by them).
var authorNames = []string{
	"stephen king", "agatha christie", "brandon sanderson", "terry pratchett", "jk rowling = j k rowling",
	"tolkien = jrr tolkien = j r r tolkien", "george rr martin = george r r martin", "jane austen", "charles dickens",
	"james patterson", "dan brown", "john grisham", "malcolm gladwell", "yuval noah harari", "haruki murakami",
	"margaret atwood", "cormac mccarthy", "isaac asimov", "frank herbert", "ursula k le guin = ursula le guin",
	"arthur conan doyle", "kurt vonnegut", "ernest hemingway", "mark twain", "lee child", "colleen hoover",
	"rick riordan", "roald dahl", "dr seuss", "suzanne collins", "hp lovecraft = h p lovecraft", "edgar allan poe",
	"george orwell", "ray bradbury", "toni morrison", "michael crichton", "douglas adams", "robin hobb",
	"patrick rothfuss", "joe abercrombie", "andy weir", "sally rooney", "neil gaiman", "leo tolstoy = tolstoy",
}

// titleNames are titles, series and other names of things asked for, and
// their short forms and translations, as directorNames writes them: a short
// form is here only when it is no word of its own ("got", "lol", "wow"
// are not).
var titleNames = []string{
	// people's nicknames that name no one else in media (not "the rock", "the boss", "leo", "marty": titles and others)
	"jennifer lopez = j lo = jlo", "robert downey jr = rdj = robert downey junior", "arnold schwarzenegger = arnie",
	"beatles = fab four = the fab four", "michael jackson = king of pop", "beyonce = queen bey", "kanye west = yeezy",
	"kristen stewart = kstew", "taylor swift = tswift = t swift = tay tay",
	"notorious big = biggie = biggie smalls = notorious b i g", "tupac = 2pac = tupac shakur",
	"red hot chili peppers = rhcp", "rolling stones = the stones", "sylvester stallone = sly stallone",
	"leonardo dicaprio = leo dicaprio", "muhammad ali = mohammed ali = mohamed ali",
	"dostoevsky = dostoyevsky = fyodor dostoevsky", "new york city = big apple = the big apple",
	"dungeons and dragons = dnd = d and d", "final fantasy 14 = ffxiv = ff14",
	"harry potter audiobooks = hp audiobooks", "doctor who = dr who",
	"how i met your mother = himym", "saturday night live = snl", "great british bake off = gbbo = great british baking show",
	"its always sunny in philadelphia = iasip", "brooklyn 99 = brooklyn 9 9 = b99", "walking dead = twd",
	"avatar the last airbender = atla", "attack on titan = aot = shingeki no kyojin", "my hero academia = mha = boku no hero academia",
	"jujutsu kaisen = jjk", "dragon ball z = dbz", "demon slayer = kimetsu no yaiba", "fullmetal alchemist = fma",
	"fullmetal alchemist brotherhood = fmab", "hunter x hunter = hxh", "neon genesis evangelion = nge",
	"spirited away = sen to chihiro no kamikakushi", "my neighbor totoro = tonari no totoro", "naruto shippuden = naruto shippuuden",
	"breath of the wild = botw = zelda breath of the wild = legend of zelda breath of the wild",
	"tears of the kingdom = totk = zelda tears of the kingdom", "last of us = tlou", "red dead redemption = rdr",
	"red dead redemption 2 = rdr2", "grand theft auto = gta", "grand theft auto 5 = gta 5 = gtav = gta5",
	"final fantasy = ff", "final fantasy 7 = ff7 = ffvii", "metal gear solid = mgs", "dc extended universe = dceu",
	"star trek the next generation = star trek tng = tng", "star trek deep space nine = ds9 = star trek ds9",
	"pirates of the caribbean = potc", "super nintendo = snes = super nes", "nintendo 64 = n64", "playstation 1 = ps1 = psx",
	"playstation 2 = ps2", "electronic dance music = edm", "drum and bass = dnb = drum n bass",
	"role playing games = rpgs = rpg games", "role playing game = rpg", "japanese role playing games = jrpgs = jrpg games",
	"massively multiplayer online role playing games = mmorpgs = mmorpg games",
	"free to play = f2p", "money heist = la casa de papel", "amelie = le fabuleux destin d amelie poulain",
	"crouching tiger hidden dragon = crouching tiger", "pans labyrinth = el laberinto del fauno",
	"the seventh seal = det sjunde inseglet", "bicycle thieves = ladri di biciclette = the bicycle thief",
	"italian neorealism = italian neo realism", "metroidvanias = metroidvania games",
	"roguelikes = roguelike games", "soulslikes = soulslike games",
}

// works says what a known name makes, as bits.
type works uint8

const (
	workFilms works = 1 << iota // movies, documentaries and their genres
	workShows                   // shows, series, their seasons and episodes
	workGames
	workMusic // songs, albums, soundtracks, scores, symphonies
	workBooks // books, novels, audiobooks
)

// makerSet holds the names as the rules keep them, with what they make
// (0 for titles), nameAliases their other spellings (to the name kept),
// and aliasLongest the words of the longest spelling.
var makerSet, nameAliases, aliasLongest = func() (map[string]works, map[string]string, int) {
	known, aliases, longest := map[string]works{}, map[string]string{}, 0
	for _, group := range []struct {
		names []string
		makes works
	}{{directorNames, workFilms}, {studioNames, workFilms | workShows}, {gameMakerNames, workGames}, {composerNames, workMusic}, {authorNames, workBooks}, {titleNames, 0}} {
		for _, line := range group.names {
			parts := strings.Split(line, "=")
			name := strings.TrimSpace(parts[0])
			known[name] = group.makes
			for _, a := range parts[1:] {
				a = strings.TrimSpace(a)
				aliases[a] = name
				longest = max(longest, len(strings.Fields(a)))
			}
			longest = max(longest, len(strings.Fields(name)))
		}
	}
	return known, aliases, longest
}()

// kindMakes returns what a maker of kind (a kind word) makes.
func kindMakes(kind string) works {
	if s, ok := synonyms[kind]; ok { // "film": movie
		kind = s
	}
	switch {
	case musicKinds[kind] || kind == "scores" || kind == "symphonies" || kind == "concertos" || kind == "operas" || kind == "sonatas":
		return workMusic
	case kind == "games":
		return workGames
	case kind == "audiobooks" || kind == "audiobook" || kind == "books" || kind == "book" || kind == "novels" || kind == "novel":
		return workBooks
	case kind == "shows" || kind == "show" || kind == "series" || episodic[kind] || kind == "miniseries":
		return workShows
	case isCategory(kind) || kind == "shorts":
		return workFilms
	}
	return 0
}

// nameStarts are the first words of the names and their spellings.
var nameStarts = func() map[string]bool {
	m := map[string]bool{}
	for name := range makerSet {
		m[strings.Fields(name)[0]] = true
	}
	for a := range nameAliases {
		m[strings.Fields(a)[0]] = true
	}
	return m
}()

// knownMaker reports whether the name is a maker's of some kind.
func knownMaker(name string) bool { return makerSet[name] != 0 }

// makerOf reports whether name is a known maker of kind (a kind word):
// "nolan movies" are his, "beethoven movies" are not Beethoven's.
func makerOf(name, kind string) bool { return makerSet[name]&kindMakes(kind) != 0 }

// alias returns the name the words ws start with spell, and how many
// words it takes: the longest spelling first, a name written as the rules
// keep it included ("studio ghibli" is not "studio" and then "ghibli");
// n is 0 when ws start with none.
func alias(ws []string) (name string, n int) {
	if len(ws) == 0 || !nameStarts[ws[0]] {
		return "", 0
	}
	for n := min(aliasLongest, len(ws)); n >= 1; n-- {
		p := strings.Join(ws[:n], " ")
		if _, ok := makerSet[p]; ok {
			return p, n
		}
		if name, ok := nameAliases[p]; ok {
			return name, n
		}
	}
	return "", 0
}
