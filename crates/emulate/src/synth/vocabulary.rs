//! The vocabulary of the synthetic data set: categories, words, names and countries.
// Kept in compact rows; `cargo fmt` would put each word on a line of its own.
#![cfg_attr(rustfmt, rustfmt::skip)]

/// The 13 categories of the source data, with weights (the source is not uniform).
pub(super) const CATEGORIES: [(&str, u32); 13] = [
    ("christmas", 9), ("tattoos", 8), ("quotes", 9), ("art", 7), ("education", 8),
    ("home-decor", 9), ("travel", 8), ("mens-fashion", 8), ("vehicles", 7), ("diy-and-crafts", 8),
    ("finance", 6), ("event-planning", 7), ("beauty", 6),
];

/// Words of each category's titles and tags.
pub(super) fn topic_words(category: &str) -> &'static [&'static str] {
    match category {
        "christmas" => &[
            "Christmas Tree", "Ornaments", "Advent Calendar", "Stocking", "Gingerbread",
            "Holiday Table", "Wreath", "Christmas Cookies", "Elf", "Nativity",
        ],
        "tattoos" => &[
            "Small Tattoo", "Sleeve", "Mandala", "Floral Tattoo", "Fine Line", "Minimalist Tattoo",
            "Wrist Tattoo", "Script", "Watercolor Tattoo", "Tribal",
        ],
        "quotes" => &[
            "Life Quotes", "Motivation", "Inspirational Quotes", "Love Quotes", "Positive Vibes",
            "Wisdom", "Friendship Quotes", "Self Care", "Mindset", "Happiness",
        ],
        "art" => &[
            "Watercolor", "Acrylic Painting", "Sketch", "Abstract Art", "Portrait", "Canvas",
            "Drawing Ideas", "Oil Painting", "Street Art", "Illustration",
        ],
        "education" => &[
            "Classroom", "Teacher", "Worksheet", "Homeschool", "Math", "Reading", "Science",
            "Printable", "Learning Activities", "Study Tips",
        ],
        "home-decor" => &[
            "Living Room", "Bedroom", "Kitchen", "Farmhouse", "Boho", "Wall Decor", "Shelves",
            "Rustic", "Modern Home", "Entryway",
        ],
        "travel" => &[
            "Road Trip", "Beach", "Europe", "Packing List", "Mountains", "Backpacking",
            "Travel Tips", "Bucket List", "National Park", "City Break",
        ],
        "mens-fashion" => &[
            "Outfit", "Streetwear", "Suit", "Casual Style", "Sneakers", "Watches", "Denim",
            "Smart Casual", "Beard", "Leather Jacket",
        ],
        "vehicles" => &[
            "Classic Car", "Motorcycle", "Truck", "Van Life", "Sports Car", "Restoration",
            "Off Road", "Jeep", "Camper", "Muscle Car",
        ],
        "diy-and-crafts" => &[
            "Crochet", "Knitting", "Paper Craft", "Handmade", "Upcycling", "Macrame", "Sewing",
            "Kids Crafts", "Resin", "Embroidery",
        ],
        "finance" => &[
            "Budget", "Saving Money", "Investing", "Debt Free", "Side Hustle", "Frugal Living",
            "Retirement", "Money Tips", "Passive Income", "Budget Planner",
        ],
        "event-planning" => &[
            "Wedding", "Birthday Party", "Baby Shower", "Centerpiece", "Party Decorations",
            "Bridal Shower", "Table Setting", "Graduation", "Balloon Garland", "Invitation",
        ],
        _ => &[
            "Makeup", "Skincare", "Nail Art", "Hairstyle", "Eyeshadow", "Lipstick",
            "Skin Care Routine", "Braids", "Natural Makeup", "Hair Color",
        ],
    }
}

pub(super) const ADJECTIVES: &[&str] = &[
    "Easy", "Simple", "Best", "Cute", "Cozy", "Creative", "Beautiful", "Amazing", "Minimalist",
    "Vintage", "Modern", "Budget", "Quick", "Stunning", "Unique", "Aesthetic",
];
pub(super) const TITLE_TAILS: &[&str] = &[
    "Ideas", "for Beginners", "You Will Love", "to Try This Year", "Inspiration", "on a Budget",
    "That Are Actually Easy", "for Every Season", "Tutorial", "Guide",
];
pub(super) const DESCRIPTION_PARTS: &[&str] = &[
    "Find and save ideas about", "Discover the best", "Here are some of my favourite",
    "Step by step guide to", "Everything you need to know about", "Get inspired with these",
    "Looking for", "Check out our collection of",
];
pub(super) const DESCRIPTION_ENDINGS: &[&str] = &[
    "on Pinterest.", "for your next project!", "— you'll love them.",
    "Click through for the full list.", "Save this pin for later ✨",
    "Perfect for beginners and pros alike.", "See more ideas about the topic.", "Follow for more!",
];
pub(super) const POSTER_SUFFIXES: &[&str] = &[
    "Designs", "Studio", "Home", "Life", "Blog", "Co.", "Magazine", "Creates", "Daily", "Club",
];
pub(super) const FIRST_NAMES: &[&str] = &[
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David",
    "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah",
    "Christopher", "Karen", "Daniel", "Lisa", "Matthew", "Nancy", "Anthony", "Betty", "Mark",
    "Sandra", "Steven", "Ashley", "Paul", "Emily", "Andrew", "Donna", "Joshua", "Michelle",
    "Kevin", "Amanda", "Brian", "Melissa", "José", "Zoë", "Chloé", "Renée", "Søren", "Björn",
];
pub(super) const LAST_NAMES: &[&str] = &[
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor",
    "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez",
    "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott",
    "Torres", "Nguyen", "Hill", "Flores", "Müller", "García", "Núñez", "O'Brien",
];
/// Country names as the source data's generator (Faker) wrote them.
pub(super) const COUNTRIES: &[&str] = &[
    "Afghanistan", "Albania", "Algeria", "American Samoa", "Andorra", "Angola", "Anguilla",
    "Antarctica (the territory South of 60 deg S)", "Antigua and Barbuda", "Argentina", "Armenia",
    "Aruba", "Australia", "Austria", "Azerbaijan", "Bahamas", "Bahrain", "Bangladesh", "Barbados",
    "Belarus", "Belgium", "Belize", "Benin", "Bermuda", "Bhutan", "Bolivia",
    "Bosnia and Herzegovina", "Botswana", "Bouvet Island (Bouvetoya)", "Brazil",
    "British Indian Ocean Territory (Chagos Archipelago)", "British Virgin Islands",
    "Brunei Darussalam", "Bulgaria", "Burkina Faso", "Burundi", "Cambodia", "Cameroon", "Canada",
    "Cape Verde", "Cayman Islands", "Central African Republic", "Chad", "Chile", "China",
    "Christmas Island", "Cocos (Keeling) Islands", "Colombia", "Comoros", "Congo", "Cook Islands",
    "Costa Rica", "Cote d'Ivoire", "Croatia", "Cuba", "Cyprus", "Czech Republic", "Denmark",
    "Djibouti", "Dominica", "Dominican Republic", "Ecuador", "Egypt", "El Salvador",
    "Equatorial Guinea", "Eritrea", "Estonia", "Ethiopia", "Falkland Islands (Malvinas)",
    "Faroe Islands", "Fiji", "Finland", "France", "French Guiana", "French Polynesia",
    "French Southern Territories", "Gabon", "Gambia", "Georgia", "Germany", "Ghana", "Gibraltar",
    "Greece", "Greenland", "Grenada", "Guadeloupe", "Guam", "Guatemala", "Guernsey", "Guinea",
    "Guinea-Bissau", "Guyana", "Haiti", "Heard Island and McDonald Islands",
    "Holy See (Vatican City State)", "Honduras", "Hong Kong", "Hungary", "Iceland", "India",
    "Indonesia", "Iran", "Iraq", "Ireland", "Isle of Man", "Israel", "Italy", "Jamaica", "Japan",
    "Jersey", "Jordan", "Kazakhstan", "Kenya", "Kiribati", "Korea", "Kuwait", "Kyrgyz Republic",
    "Lao People's Democratic Republic", "Latvia", "Lebanon", "Lesotho", "Liberia",
    "Libyan Arab Jamahiriya", "Liechtenstein", "Lithuania", "Luxembourg", "Macao", "Madagascar",
    "Malawi", "Malaysia", "Maldives", "Mali", "Malta", "Marshall Islands", "Martinique",
    "Mauritania", "Mauritius", "Mayotte", "Mexico", "Micronesia", "Moldova", "Monaco", "Mongolia",
    "Montenegro", "Montserrat", "Morocco", "Mozambique", "Myanmar", "Namibia", "Nauru", "Nepal",
    "Netherlands", "Netherlands Antilles", "New Caledonia", "New Zealand", "Nicaragua", "Niger",
    "Nigeria", "Niue", "Norfolk Island", "Northern Mariana Islands", "Norway", "Oman", "Pakistan",
    "Palau", "Palestinian Territory", "Panama", "Papua New Guinea", "Paraguay", "Peru",
    "Philippines", "Pitcairn Islands", "Poland", "Portugal", "Puerto Rico", "Qatar", "Reunion",
    "Romania", "Russian Federation", "Rwanda", "Saint Barthelemy", "Saint Helena",
    "Saint Kitts and Nevis", "Saint Lucia", "Saint Martin", "Samoa", "San Marino",
    "Sao Tome and Principe", "Saudi Arabia", "Senegal", "Serbia", "Seychelles", "Sierra Leone",
    "Singapore", "Slovakia (Slovak Republic)", "Slovenia", "Solomon Islands", "Somalia",
    "South Africa", "Spain", "Sri Lanka", "Sudan", "Suriname", "Svalbard & Jan Mayen Islands",
    "Swaziland", "Sweden", "Switzerland", "Syrian Arab Republic", "Taiwan", "Tajikistan",
    "Tanzania", "Thailand", "Timor-Leste", "Togo", "Tokelau", "Tonga", "Trinidad and Tobago",
    "Tunisia", "Turkey", "Turkmenistan", "Tuvalu", "Uganda", "Ukraine", "United Arab Emirates",
    "United Kingdom", "United States of America", "Uruguay", "Uzbekistan", "Vanuatu", "Venezuela",
    "Vietnam", "Wallis and Futuna", "Western Sahara", "Yemen", "Zambia", "Zimbabwe",
];
/// Zone offsets (minutes) of the ISO-8601 timestamps; 0 is written `Z`.
pub(super) const OFFSETS_MINUTES: &[i32] = &[0, 0, 60, 120, -300, -240, 330, 540, -480, 600];
