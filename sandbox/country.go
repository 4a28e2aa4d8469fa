package sandbox

// merchant is a payee or payer that appears in generated transactions.
type merchant struct {
	Name      string // shown as the transaction description and brand name
	Slug      string // logo file name
	Narrative string // upper-case bank narrative, as on a statement
	Logo      string // logo URL, filled in from Slug by withLogos
}

// withLogos fills in the Logo of every merchant of c and returns c.
func withLogos(c country) country {
	for _, ms := range [][]merchant{c.Employers, c.Landlords, c.Grocers, c.Fuel, c.Telecom, c.Dining, c.Shopping, c.Transport, c.Travel} {
		for i := range ms {
			ms[i].Logo = logo(ms[i].Slug)
		}
	}
	for i := range c.Cities {
		c.Cities[i].Power.Logo = logo(c.Cities[i].Power.Slug)
	}
	return c
}

// city is a place where a generated user lives.
type city struct {
	Name      string
	State     string
	Areas     []string
	Buildings []string
	Zip       string // leading digits of the postal code; empty where none is used
	Power     merchant
}

// people is a nationality and the names its people carry.
type people struct {
	Nationality string // upper-case country name
	Arabic      bool   // names are first + father's name + family name
	Male        []string
	Female      []string
	Family      []string
	Weight      int
}

// country is everything locale-specific the generator uses.
type country struct {
	Code           string
	Name           string
	Currency       string
	Dial           string
	MobilePrefixes []string
	Cities         []city
	Peoples        []people
	Employers      []merchant
	Landlords      []merchant
	Grocers        []merchant
	Fuel           []merchant
	Telecom        []merchant
	Dining         []merchant
	Shopping       []merchant
	Transport      []merchant
	Travel         []merchant
}

var (
	arabicMale = []string{"Mohammed", "Ahmed", "Abdullah", "Khalid", "Omar", "Saeed", "Hamdan", "Rashid",
		"Sultan", "Faisal", "Yousef", "Ali", "Hassan", "Ibrahim", "Majid", "Tariq", "Salem", "Nasser", "Fahad", "Turki"}
	arabicFemale = []string{"Fatima", "Aisha", "Mariam", "Noura", "Hessa", "Latifa", "Shamma", "Sara",
		"Reem", "Layla", "Amal", "Hind", "Dana", "Maha", "Nouf", "Abeer", "Jawaher", "Alanoud"}

	peopleEgypt = people{Nationality: "EGYPT", Arabic: true,
		Male:   []string{"Mahmoud", "Mostafa", "Amr", "Karim", "Tamer", "Sherif", "Hany", "Ayman", "Ahmed", "Mohamed"},
		Female: []string{"Nourhan", "Yasmin", "Dina", "Heba", "Mona", "Rania", "Salma", "Mai"},
		Family: []string{"Hassan", "Abdelrahman", "El Sayed", "Farouk", "Mansour", "Soliman", "Fahmy", "Shawky"}}
	peopleJordan = people{Nationality: "JORDAN", Arabic: true,
		Male:   []string{"Rami", "Fadi", "Ziad", "Samer", "Nabil", "Omar", "Khaled", "Bassam"},
		Female: []string{"Rana", "Lina", "Maya", "Nour", "Hala", "Zeina", "Ruba", "Dima"},
		Family: []string{"Haddad", "Nasser", "Saleh", "Qasem", "Hamdan", "Najjar", "Obeidat", "Khalil"}}
	peopleLebanon = people{Nationality: "LEBANON",
		Male:   []string{"Georges", "Elie", "Karim", "Rami", "Charbel", "Nadim", "Walid", "Joseph"},
		Female: []string{"Rita", "Nadine", "Carla", "Maya", "Joelle", "Rania", "Lara", "Nour"},
		Family: []string{"Khoury", "Haddad", "Aoun", "Gemayel", "Saad", "Frem", "Abboud", "Karam"}}
	peopleIndia = people{Nationality: "INDIA",
		Male:   []string{"Rahul", "Arjun", "Vikram", "Suresh", "Anil", "Rohan", "Rajesh", "Sanjay", "Abdul", "Joseph"},
		Female: []string{"Priya", "Anjali", "Deepa", "Kavya", "Neha", "Lakshmi", "Meera", "Sneha"},
		Family: []string{"Sharma", "Nair", "Menon", "Patel", "Iyer", "Reddy", "Pillai", "Kumar", "Gupta", "Thomas", "Varghese", "Rahman"}}
	peoplePakistan = people{Nationality: "PAKISTAN",
		Male:   []string{"Ahmed", "Bilal", "Usman", "Hamza", "Imran", "Faisal", "Asad", "Zeeshan"},
		Female: []string{"Ayesha", "Sana", "Hira", "Mehwish", "Zainab", "Fatima", "Amna", "Sadia"},
		Family: []string{"Khan", "Malik", "Qureshi", "Chaudhry", "Butt", "Siddiqui", "Sheikh", "Raza"}}
	peoplePhilippines = people{Nationality: "PHILIPPINES",
		Male:   []string{"John Paul", "Mark Anthony", "Jose", "Carlo", "Paolo", "Ramon", "Jericho", "Miguel"},
		Female: []string{"Maria Cristina", "Kristine", "Joy", "Angelica", "Rosalie", "Mary Grace", "Jasmine", "Liza"},
		Family: []string{"Santos", "Reyes", "Cruz", "Bautista", "Garcia", "Mendoza", "Villanueva", "Dela Cruz"}}
	peopleUK = people{Nationality: "UNITED KINGDOM",
		Male:   []string{"James", "Oliver", "Thomas", "Daniel", "Matthew", "William", "Harry", "George"},
		Female: []string{"Emma", "Charlotte", "Sophie", "Hannah", "Olivia", "Lucy", "Amelia", "Grace"},
		Family: []string{"Smith", "Wilson", "Taylor", "Brown", "Davies", "Evans", "Walker", "Hughes"}}
	peopleYemen = people{Nationality: "YEMEN", Arabic: true,
		Male: arabicMale, Female: arabicFemale,
		Family: []string{"Bawazir", "Al Amoudi", "Bin Mahfouz", "Al Aidaroos", "Ba Shammakh", "Al Kaff"}}
)

func weighted(p people, w int) people { p.Weight = w; return p }

var countryAE = withLogos(country{
	Code: "AE", Name: "UNITED ARAB EMIRATES", Currency: "AED", Dial: "+971",
	MobilePrefixes: []string{"50", "52", "54", "55", "56", "58"},
	Cities: []city{
		{Name: "Dubai", State: "Dubai",
			Areas:     []string{"Dubai Marina", "Jumeirah Lake Towers", "Al Barsha", "Business Bay", "Deira", "Jumeirah Village Circle", "Downtown Dubai", "Al Nahda", "Mirdif", "Silicon Oasis"},
			Buildings: []string{"Marina Crown", "Lake Terrace", "Al Barsha Heights Tower", "Executive Tower B", "Al Ghurair Residence", "Bloom Towers", "Burj Views A", "Al Nahda Building 3", "Uptown Mirdif", "Palace Towers"},
			Power:     merchant{Name: "DEWA", Slug: "dewa", Narrative: "DUBAI ELECTRICITY AND WATER AUTHORITY"}},
		{Name: "Abu Dhabi", State: "Abu Dhabi",
			Areas:     []string{"Al Reem Island", "Khalifa City", "Al Khalidiyah", "Al Raha Beach", "Al Mushrif", "Mohammed Bin Zayed City"},
			Buildings: []string{"Sun Tower", "Gate Tower 2", "Al Raha Lofts", "Khalidiya Palace Residence", "Al Muneera Tower", "Shams Abu Dhabi Tower 3"},
			Power:     merchant{Name: "TAQA Distribution", Slug: "taqa", Narrative: "TAQA DISTRIBUTION ABU DHABI"}},
		{Name: "Sharjah", State: "Sharjah",
			Areas:     []string{"Al Nahda", "Al Majaz", "Al Khan", "Al Taawun", "Muwaileh"},
			Buildings: []string{"Al Majaz Tower 2", "Al Khan Lagoon Building", "Taawun Residence", "Nahda Pearl Tower", "Muwaileh Commercial Building"},
			Power:     merchant{Name: "SEWA", Slug: "sewa", Narrative: "SHARJAH ELECTRICITY WATER AND GAS AUTHORITY"}},
	},
	Peoples: []people{
		{Nationality: "UNITED ARAB EMIRATES", Arabic: true, Weight: 20, Male: arabicMale, Female: arabicFemale,
			Family: []string{"Al Mansoori", "Al Nuaimi", "Al Shamsi", "Al Ketbi", "Al Mazrouei", "Al Falasi", "Al Suwaidi", "Al Hammadi", "Al Dhaheri", "Al Qubaisi", "Al Marri", "Al Zaabi"}},
		weighted(peopleIndia, 24), weighted(peoplePakistan, 10), weighted(peoplePhilippines, 10),
		weighted(peopleEgypt, 9), weighted(peopleUK, 8), weighted(peopleJordan, 6), weighted(peopleLebanon, 6),
	},
	Employers: []merchant{
		{Name: "Emirates Group", Slug: "emirates", Narrative: "EMIRATES GROUP PAYROLL"},
		{Name: "Etihad Airways", Slug: "etihad", Narrative: "ETIHAD AIRWAYS PJSC SALARY"},
		{Name: "Majid Al Futtaim", Slug: "maf", Narrative: "MAJID AL FUTTAIM HOLDING PAYROLL"},
		{Name: "Emaar Properties", Slug: "emaar", Narrative: "EMAAR PROPERTIES PJSC SALARY"},
		{Name: "DP World", Slug: "dpworld", Narrative: "DP WORLD FZE PAYROLL"},
		{Name: "Aldar Properties", Slug: "aldar", Narrative: "ALDAR PROPERTIES PJSC SALARY"},
		{Name: "Dubai Holding", Slug: "dubaiholding", Narrative: "DUBAI HOLDING LLC PAYROLL"},
		{Name: "Careem", Slug: "careem", Narrative: "CAREEM NETWORKS FZ LLC SALARY"},
		{Name: "Mubadala", Slug: "mubadala", Narrative: "MUBADALA INVESTMENT CO PAYROLL"},
	},
	Landlords: []merchant{
		{Name: "Emaar Community Management", Slug: "emaar", Narrative: "EMAAR COMMUNITY MGMT RENT"},
		{Name: "Nakheel", Slug: "nakheel", Narrative: "NAKHEEL PJSC RENT"},
		{Name: "Aldar Properties", Slug: "aldar", Narrative: "ALDAR PROPERTIES RENT"},
		{Name: "Dubai Properties", Slug: "dubaiproperties", Narrative: "DUBAI PROPERTIES LLC RENT"},
		{Name: "Asteco Property Management", Slug: "asteco", Narrative: "ASTECO PROPERTY MGMT RENT"},
	},
	Grocers: []merchant{
		{Name: "Carrefour", Slug: "carrefour", Narrative: "CARREFOUR HYPERMARKET"},
		{Name: "Lulu Hypermarket", Slug: "lulu", Narrative: "LULU HYPERMARKET LLC"},
		{Name: "Spinneys", Slug: "spinneys", Narrative: "SPINNEYS DUBAI LLC"},
		{Name: "Choithrams", Slug: "choithrams", Narrative: "CHOITHRAM AND SONS"},
		{Name: "Waitrose", Slug: "waitrose", Narrative: "WAITROSE DUBAI MALL"},
	},
	Fuel: []merchant{
		{Name: "ADNOC", Slug: "adnoc", Narrative: "ADNOC DISTRIBUTION STATION"},
		{Name: "ENOC", Slug: "enoc", Narrative: "ENOC SERVICE STATION"},
		{Name: "Emarat", Slug: "emarat", Narrative: "EMARAT PETROL STATION"},
	},
	Telecom: []merchant{
		{Name: "Etisalat", Slug: "etisalat", Narrative: "ETISALAT BILL PAYMENT"},
		{Name: "du", Slug: "du", Narrative: "DU EMIRATES INTEGRATED TELECOM"},
	},
	Dining: []merchant{
		{Name: "Talabat", Slug: "talabat", Narrative: "TALABAT.COM"},
		{Name: "Deliveroo", Slug: "deliveroo", Narrative: "DELIVEROO.AE"},
		{Name: "Starbucks", Slug: "starbucks", Narrative: "STARBUCKS ALSHAYA"},
		{Name: "Tim Hortons", Slug: "timhortons", Narrative: "TIM HORTONS UAE"},
		{Name: "Shake Shack", Slug: "shakeshack", Narrative: "SHAKE SHACK DUBAI MALL"},
		{Name: "Operation Falafel", Slug: "operationfalafel", Narrative: "OPERATION FALAFEL"},
		{Name: "Ravi Restaurant", Slug: "ravi", Narrative: "RAVI RESTAURANT SATWA"},
	},
	Shopping: []merchant{
		{Name: "Amazon", Slug: "amazon", Narrative: "AMAZON.AE"},
		{Name: "Noon", Slug: "noon", Narrative: "NOON.COM"},
		{Name: "Namshi", Slug: "namshi", Narrative: "NAMSHI.COM"},
		{Name: "IKEA", Slug: "ikea", Narrative: "IKEA FESTIVAL CITY"},
		{Name: "Sharaf DG", Slug: "sharafdg", Narrative: "SHARAF DG LLC"},
		{Name: "Centrepoint", Slug: "centrepoint", Narrative: "CENTREPOINT LANDMARK"},
	},
	Transport: []merchant{
		{Name: "Salik", Slug: "salik", Narrative: "SALIK TOLL TOP UP"},
		{Name: "RTA Nol", Slug: "rta", Narrative: "RTA NOL CARD TOP UP"},
		{Name: "Careem", Slug: "careem", Narrative: "CAREEM RIDE"},
		{Name: "Uber", Slug: "uber", Narrative: "UBER TRIP HELP.UBER.COM"},
	},
	Travel: []merchant{
		{Name: "Emirates", Slug: "emirates", Narrative: "EMIRATES AIRLINE TICKETS"},
		{Name: "flydubai", Slug: "flydubai", Narrative: "FLYDUBAI.COM"},
		{Name: "Air Arabia", Slug: "airarabia", Narrative: "AIR ARABIA AIRARABIA.COM"},
		{Name: "Booking.com", Slug: "booking", Narrative: "BOOKING.COM HOTEL RESERVATION"},
	},
})

var countrySA = withLogos(country{
	Code: "SA", Name: "SAUDI ARABIA", Currency: "SAR", Dial: "+966",
	MobilePrefixes: []string{"50", "53", "54", "55", "56", "59"},
	Cities: []city{
		{Name: "Riyadh", State: "Riyadh Province", Zip: "12",
			Areas:     []string{"Al Olaya", "Al Malqa", "Al Nakheel", "Al Yasmin", "Al Sulimaniyah", "Al Murabba", "Hittin"},
			Buildings: []string{"7564", "3182", "8244", "2615", "6410", "4097", "9033"},
			Power:     merchant{Name: "Saudi Electricity Company", Slug: "sec", Narrative: "SAUDI ELECTRICITY CO SADAD"}},
		{Name: "Jeddah", State: "Makkah Province", Zip: "23",
			Areas:     []string{"Al Rawdah", "Al Salamah", "Al Zahra", "Al Shati", "Al Naeem", "Al Hamra"},
			Buildings: []string{"2871", "6642", "3305", "7719", "4450", "8128"},
			Power:     merchant{Name: "Saudi Electricity Company", Slug: "sec", Narrative: "SAUDI ELECTRICITY CO SADAD"}},
		{Name: "Dammam", State: "Eastern Province", Zip: "32",
			Areas:     []string{"Al Faisaliyah", "Al Shati", "Al Mazruiyah", "Al Nakheel", "Al Jalawiyah"},
			Buildings: []string{"4120", "6287", "2954", "7031", "3566"},
			Power:     merchant{Name: "Saudi Electricity Company", Slug: "sec", Narrative: "SAUDI ELECTRICITY CO SADAD"}},
		{Name: "Al Khobar", State: "Eastern Province", Zip: "34",
			Areas:     []string{"Al Ulaya", "Al Thuqbah", "Al Aqrabiyah", "Al Hizam Al Akhdar"},
			Buildings: []string{"2233", "5178", "6809", "3941"},
			Power:     merchant{Name: "Saudi Electricity Company", Slug: "sec", Narrative: "SAUDI ELECTRICITY CO SADAD"}},
	},
	Peoples: []people{
		{Nationality: "SAUDI ARABIA", Arabic: true, Weight: 55, Male: arabicMale, Female: arabicFemale,
			Family: []string{"Al Qahtani", "Al Ghamdi", "Al Otaibi", "Al Harbi", "Al Zahrani", "Al Dosari", "Al Shehri", "Al Mutairi", "Al Anazi", "Al Shammari", "Al Subaie", "Al Juhani"}},
		weighted(peopleEgypt, 10), weighted(peopleIndia, 10), weighted(peoplePakistan, 8),
		weighted(peopleJordan, 5), weighted(peoplePhilippines, 5), weighted(peopleYemen, 4), weighted(peopleUK, 3),
	},
	Employers: []merchant{
		{Name: "Saudi Aramco", Slug: "aramco", Narrative: "SAUDI ARAMCO PAYROLL"},
		{Name: "SABIC", Slug: "sabic", Narrative: "SAUDI BASIC INDUSTRIES CORP SALARY"},
		{Name: "STC", Slug: "stc", Narrative: "SAUDI TELECOM COMPANY PAYROLL"},
		{Name: "Almarai", Slug: "almarai", Narrative: "ALMARAI COMPANY SALARY"},
		{Name: "Ma'aden", Slug: "maaden", Narrative: "SAUDI ARABIAN MINING CO PAYROLL"},
		{Name: "Saudia", Slug: "saudia", Narrative: "SAUDI ARABIAN AIRLINES SALARY"},
		{Name: "NEOM", Slug: "neom", Narrative: "NEOM COMPANY PAYROLL"},
		{Name: "Ministry of Education", Slug: "moe", Narrative: "MINISTRY OF EDUCATION SALARY"},
	},
	Landlords: []merchant{
		{Name: "Ejar Rent Payment", Slug: "ejar", Narrative: "EJAR RENT PAYMENT SADAD"},
		{Name: "Dar Al Arkan", Slug: "daralarkan", Narrative: "DAR AL ARKAN REAL ESTATE RENT"},
		{Name: "Jabal Omar Development", Slug: "jabalomar", Narrative: "JABAL OMAR DEV CO RENT"},
	},
	Grocers: []merchant{
		{Name: "Panda", Slug: "panda", Narrative: "PANDA RETAIL COMPANY"},
		{Name: "Danube", Slug: "danube", Narrative: "DANUBE HYPERMARKET"},
		{Name: "Tamimi Markets", Slug: "tamimi", Narrative: "TAMIMI MARKETS"},
		{Name: "Othaim Markets", Slug: "othaim", Narrative: "ABDULLAH AL OTHAIM MARKETS"},
		{Name: "Carrefour", Slug: "carrefour", Narrative: "CARREFOUR HYPERMARKET KSA"},
	},
	Fuel: []merchant{
		{Name: "Aldrees", Slug: "aldrees", Narrative: "ALDREES PETROLEUM STATION"},
		{Name: "SASCO", Slug: "sasco", Narrative: "SASCO SERVICE STATION"},
		{Name: "Petromin", Slug: "petromin", Narrative: "PETROMIN EXPRESS"},
		{Name: "Naft", Slug: "naft", Narrative: "NAFT SERVICES CO"},
	},
	Telecom: []merchant{
		{Name: "STC", Slug: "stc", Narrative: "STC BILL PAYMENT SADAD"},
		{Name: "Mobily", Slug: "mobily", Narrative: "MOBILY BILL PAYMENT SADAD"},
		{Name: "Zain", Slug: "zain", Narrative: "ZAIN KSA BILL PAYMENT"},
	},
	Dining: []merchant{
		{Name: "HungerStation", Slug: "hungerstation", Narrative: "HUNGERSTATION"},
		{Name: "Jahez", Slug: "jahez", Narrative: "JAHEZ INTERNATIONAL"},
		{Name: "Al Baik", Slug: "albaik", Narrative: "ALBAIK FOOD SYSTEMS"},
		{Name: "Starbucks", Slug: "starbucks", Narrative: "STARBUCKS ALSHAYA KSA"},
		{Name: "Kudu", Slug: "kudu", Narrative: "KUDU RESTAURANT"},
		{Name: "Barn's", Slug: "barns", Narrative: "BARNS COFFEE"},
	},
	Shopping: []merchant{
		{Name: "Amazon", Slug: "amazon", Narrative: "AMAZON.SA"},
		{Name: "Noon", Slug: "noon", Narrative: "NOON.COM KSA"},
		{Name: "Jarir Bookstore", Slug: "jarir", Narrative: "JARIR BOOKSTORE"},
		{Name: "eXtra", Slug: "extra", Narrative: "UNITED ELECTRONICS CO EXTRA"},
		{Name: "Namshi", Slug: "namshi", Narrative: "NAMSHI.COM KSA"},
		{Name: "IKEA", Slug: "ikea", Narrative: "IKEA RIYADH"},
	},
	Transport: []merchant{
		{Name: "Careem", Slug: "careem", Narrative: "CAREEM RIDE KSA"},
		{Name: "Uber", Slug: "uber", Narrative: "UBER TRIP HELP.UBER.COM"},
		{Name: "Riyadh Metro", Slug: "riyadhmetro", Narrative: "DARB RIYADH METRO"},
	},
	Travel: []merchant{
		{Name: "Saudia", Slug: "saudia", Narrative: "SAUDIA AIRLINES TICKETS"},
		{Name: "flynas", Slug: "flynas", Narrative: "FLYNAS.COM"},
		{Name: "Almosafer", Slug: "almosafer", Narrative: "ALMOSAFER TRAVEL"},
		{Name: "Booking.com", Slug: "booking", Narrative: "BOOKING.COM HOTEL RESERVATION"},
	},
})
