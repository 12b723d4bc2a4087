/**
 * A realistic, reproducible home-care network dataset for benchmarks and load
 * tests: organisations (SSIAD, HAD), practitioners with RPPS identifiers,
 * patients with French names (accents, hyphens, apostrophes) and INS-NIR
 * identifiers, agencies' locations, and per patient encounters, a care plan and
 * observations (weight, blood pressure, heart rate, temperature) in UCUM units.
 *
 * Identifier systems are those of FRENCH-CONVENTIONS.md (FR Core 2.2.0):
 * INS-NIR urn:oid:1.2.250.1.213.1.4.8 typed fr-core-cs-v2-0203#INS-NIR,
 * RPPS https://rpps.esante.gouv.fr typed #RPPS. The values are synthetic
 * (a NIR-shaped number with a valid key; 11-digit RPPS), never real people.
 *
 * Run alone to write NDJSON: `npx tsx scripts/network-dataset.ts --patients 1000 > network.ndjson`.
 */
import type { Resource } from 'fhir/r4';
import { pathToFileURL } from 'node:url';

export const NIR_SYSTEM = 'urn:oid:1.2.250.1.213.1.4.8';
export const RPPS_SYSTEM = 'https://rpps.esante.gouv.fr';
const FR_ID_TYPES = 'https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203';
const LOINC = 'http://loinc.org';
const UCUM = 'http://unitsofmeasure.org';

const FAMILY = [
  'Martin', 'Bernard', 'Dubois', 'Thomas', 'Robert', 'Richard', 'Petit', 'Durand', 'Leroy', 'Moreau', 'Simon', 'Laurent',
  'Lefèvre', 'Michel', 'Garcia', 'David', 'Bertrand', 'Roux', 'Vincent', 'Fournier', 'Morel', 'Girard', 'André', 'Mercier',
  'Dupont', 'Lambert', 'Bonnet', 'François', 'Martinez', 'N’Diaye', "D'Almeida", 'Le Goff', 'Chevalier', 'Gauthier', 'Perrin',
  'Rousseau', 'Blanc', 'Guérin', 'Muller', 'Henry', 'Roussel', 'Nicolas', 'Masson', 'Marchand', 'Duval', 'Denis', 'Dumont',
  'Lemaire', 'Noël', 'Meyer', 'Dufour', 'Meunier', 'Brun', 'Blanchard', 'Giraud', 'Joly', 'Rivière', 'Lucas', 'Brunet',
  'Gaillard', 'Barbier', 'Arnaud', 'Martel', 'Gérard', 'Roche', 'Renard', 'Schmitt', 'Roy', 'Leroux', 'Colin', 'Vidal',
  'Caron', 'Picard', 'Roger', 'Fabre', 'Aubert', 'Lemoine', 'Renaud', 'Dumas', 'Lacroix', 'Olivier', 'Philippe', 'Bourgeois',
  'Pierre', 'Benoît', 'Rey', 'Leclerc', 'Payet', 'Rolland', 'Leclercq', 'Guillaume', 'Lecomte', 'Lopez', 'Jean', 'Dupuy',
  'Guillot', 'Hubert', 'Berger', 'Carpentier', 'Sánchez', 'Dupuis', 'Moulin', 'Louis', 'Deschamps', 'Huet', 'Vasseur', 'Perez',
  'Boucher', 'Fleury', 'Royer', 'Klein', 'Jacquet', 'Adam', 'Paris', 'Poirier', 'Marty', 'Aubry', 'Guyot', 'Carré', 'Charles',
  'Renault', 'Charpentier', 'Ménard', 'Maillard', 'Baron', 'Bertin', 'Bailly', 'Hervé', 'Schneider', 'Fernandez', 'Le Gall',
  'Collet', 'Léger', 'Bouvier', 'Julien', 'Prévost', 'Millet', 'Perrot', 'Daniel', 'Le Roux', 'Cousin', 'Germain', 'Breton',
  'Besson', 'Langlois', 'Rémy', 'Pelletier', 'Lévêque', 'Perrier', 'Leblanc', 'Barré', 'Lebrun', 'Marchal', 'Weber', 'Mallet',
  'Hamon', 'Boulanger', 'Jacob', 'Monnier', 'Michaud', 'Rodriguez', 'Guichard', 'Gillet', 'Étienne', 'Grondin', 'Poulain',
  'Tessier', 'Chevallier', 'Collin', 'Chauvin', 'Da Silva', 'Bouchet', 'Gay', 'Lemaître', 'Bénard', 'Maréchal', 'Humbert',
  'Reynaud', 'Antoine', 'Hoarau', 'Perret', 'Barthélemy', 'Cordier', 'Pichon', 'Lejeune', 'Gilbert', 'Lamy', 'Delaunay', 'Pasquier',
];
const GIVEN_F = ['Hélène', 'Françoise', 'Zoé', 'Gaëlle', 'Anaïs', 'Cécile', 'Marie-Thérèse', 'Élodie', 'Maëlle', 'Agnès', 'Chloé', 'Léa', 'Noémie', 'Inès', 'Jeanne', 'Geneviève', 'Thérèse', 'Josiane', 'Brigitte', 'Mélanie', 'Anne-Sophie', 'Solène', 'Danièle', 'Odile', 'Bérénice'];
const GIVEN_M = ['Jérôme', 'Loïc', 'Benoît', 'Raphaël', 'Noël', 'Jean-Pierre', 'François', 'Cédric', 'Stéphane', 'Frédéric', 'Joël', 'Hervé', 'André', 'Gérard', 'René', 'Léon', 'Mathéo', 'Jean-Luc', 'Aurélien', 'Théo', 'Grégoire', 'Rémi', 'Yannick', 'Maël', 'Anaël'];
const CITIES: Array<[string, string, number, number]> = [
  ['Saint-Étienne', '42000', 45.4397, 4.3872], ['Lyon', '69003', 45.764, 4.8357], ['Villeurbanne', '69100', 45.7719, 4.8902],
  ['Roanne', '42300', 46.0344, 4.0722], ['Vénissieux', '69200', 45.6975, 4.8867], ['Montbrison', '42600', 45.6075, 4.0653],
  ['Givors', '69700', 45.5906, 4.7689], ['Firminy', '42700', 45.3886, 4.2878], ['Villefranche-sur-Saône', '69400', 45.9897, 4.7186],
  ['Saint-Chamond', '42400', 45.4756, 4.5153], ['Bron', '69500', 45.7386, 4.9131], ['Rive-de-Gier', '42800', 45.5294, 4.6178],
];

/** Mulberry32: small, fast, seedable (benchmarks must be reproducible). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface NetworkOptions {
  patients: number;
  observationsPerPatient: number;
  encountersPerPatient: number;
  seed: number;
}

export interface NetworkIndex {
  /** For the benchmark's query parameters. */
  patientIds: string[];
  nirs: string[];
  rpps: string[];
  families: string[];
}

const pad = (n: number, width: number) => String(n).padStart(width, '0');

/** A NIR-shaped 13-digit number followed by its 2-digit key (97 − n mod 97). */
function nir(random: () => number, sex: 1 | 2, year: number, month: number, serial: number): string {
  const body = `${sex}${pad(year % 100, 2)}${pad(month, 2)}${pad(42 + Math.floor(random() * 28), 2)}${pad(1 + Math.floor(random() * 998), 3)}${pad(serial % 1000, 3)}`;
  const key = 97 - Number(BigInt(body) % 97n);
  return `${body}${pad(key, 2)}`;
}

export function* generateNetwork(options: NetworkOptions, index: NetworkIndex = { patientIds: [], nirs: [], rpps: [], families: [] }): Generator<Resource> {
  const random = seededRandom(options.seed);
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)];
  const organisations = Math.max(2, Math.ceil(options.patients / 2000));
  const practitioners = Math.max(5, Math.ceil(options.patients / 50));
  for (let o = 0; o < organisations; o++) {
    const [city] = CITIES[o % CITIES.length];
    yield { resourceType: 'Organization', id: `org-${o}`, name: `${o % 3 === 0 ? 'HAD' : 'SSIAD'} ${city} ${o}` } as Resource;
    const [, postalCode, lat, lon] = CITIES[o % CITIES.length];
    yield { resourceType: 'Location', id: `loc-${o}`, name: `Antenne ${city}`, address: { city, postalCode }, position: { latitude: lat + (random() - 0.5) * 0.05, longitude: lon + (random() - 0.5) * 0.05 }, managingOrganization: { reference: `Organization/org-${o}` } } as Resource;
  }
  for (let p = 0; p < practitioners; p++) {
    const rpps = `10${pad(Math.floor(random() * 1e9), 9)}`;
    index.rpps.push(rpps);
    yield {
      resourceType: 'Practitioner',
      id: `pr-${p}`,
      identifier: [{ system: RPPS_SYSTEM, value: rpps, type: { coding: [{ system: FR_ID_TYPES, code: 'RPPS' }] } }],
      name: [{ family: pick(FAMILY), given: [random() < 0.5 ? pick(GIVEN_F) : pick(GIVEN_M)] }],
    } as Resource;
  }
  for (let i = 0; i < options.patients; i++) {
    const id = `pat-${i}`;
    const female = random() < 0.55;
    const year = 1925 + Math.floor(random() * 80);
    const month = 1 + Math.floor(random() * 12);
    const day = 1 + Math.floor(random() * 28);
    const value = nir(random, female ? 2 : 1, year, month, i);
    const family = pick(FAMILY);
    const [city, postalCode] = pick(CITIES);
    const organisation = `Organization/org-${i % organisations}`;
    const practitioner = `Practitioner/pr-${i % practitioners}`;
    index.patientIds.push(id);
    index.nirs.push(value);
    index.families.push(family);
    yield {
      resourceType: 'Patient',
      id,
      identifier: [{ use: 'official', system: NIR_SYSTEM, value, type: { coding: [{ system: FR_ID_TYPES, code: 'INS-NIR' }] } }],
      name: [{ use: 'official', family, given: [female ? pick(GIVEN_F) : pick(GIVEN_M)] }],
      gender: female ? 'female' : 'male',
      birthDate: `${year}-${pad(month, 2)}-${pad(day, 2)}`,
      address: [{ city, postalCode, country: 'FR' }],
      managingOrganization: { reference: organisation },
      generalPractitioner: [{ reference: practitioner }],
    } as Resource;
    for (let e = 0; e < options.encountersPerPatient; e++) {
      const start = Date.UTC(2023, 0, 1) + Math.floor(random() * 3 * 365) * 86_400_000;
      const open = e === 0 && random() < 0.3;
      yield {
        resourceType: 'Encounter',
        id: `enc-${i}-${e}`,
        status: open ? 'in-progress' : 'finished',
        class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'HH', display: 'home health' },
        subject: { reference: `Patient/${id}` },
        participant: [{ individual: { reference: practitioner } }],
        serviceProvider: { reference: organisation },
        period: { start: new Date(start).toISOString(), ...(open ? {} : { end: new Date(start + (1 + Math.floor(random() * 60)) * 86_400_000).toISOString() }) },
      } as Resource;
    }
    yield {
      resourceType: 'CarePlan',
      id: `cp-${i}`,
      status: random() < 0.7 ? 'active' : 'completed',
      intent: 'plan',
      title: 'Projet personnalisé',
      subject: { reference: `Patient/${id}` },
      author: { reference: practitioner },
      period: { start: `2024-${pad(1 + Math.floor(random() * 12), 2)}-01` },
    } as Resource;
    for (let o = 0; o < options.observationsPerPatient; o++) {
      const kind = o % 4;
      const when = new Date(Date.UTC(2023, 0, 1) + Math.floor(random() * 3 * 365 * 86_400_000)).toISOString();
      const [code, display, quantity] =
        kind === 0 ? ['29463-7', 'Poids', { value: Math.round((45 + random() * 60) * 10) / 10, unit: 'kg', system: UCUM, code: 'kg' }]
        : kind === 1 ? ['8480-6', 'Pression artérielle systolique', { value: Math.round(100 + random() * 80), unit: 'mm[Hg]', system: UCUM, code: 'mm[Hg]' }]
        : kind === 2 ? ['8867-4', 'Fréquence cardiaque', { value: Math.round(50 + random() * 60), unit: '/min', system: UCUM, code: '/min' }]
        : ['8310-5', 'Température corporelle', { value: Math.round((36 + random() * 4) * 10) / 10, unit: '°C', system: UCUM, code: 'Cel' }];
      yield {
        resourceType: 'Observation',
        id: `obs-${i}-${o}`,
        status: 'final',
        category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
        code: { coding: [{ system: LOINC, code, display }] },
        subject: { reference: `Patient/${id}` },
        encounter: { reference: `Encounter/enc-${i}-${o % Math.max(1, options.encountersPerPatient)}` },
        performer: [{ reference: practitioner }],
        effectiveDateTime: when,
        valueQuantity: quantity,
      } as Resource;
    }
  }
}

export function parseFlags(argv: string[], defaults: Record<string, number>): Record<string, number> {
  const flags = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i].replace(/^--/, '');
    if (!(name in defaults)) throw new Error(`unknown flag ${argv[i]} (known: ${Object.keys(defaults).map((k) => `--${k}`).join(' ')})`);
    const value = Number(argv[++i]);
    if (!Number.isFinite(value) || value < 0) throw new Error(`--${name} needs a non-negative number`);
    flags[name] = value;
  }
  return flags;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const flags = parseFlags(process.argv.slice(2), { patients: 1000, observations: 6, encounters: 2, seed: 42 });
  for (const resource of generateNetwork({ patients: flags.patients, observationsPerPatient: flags.observations, encountersPerPatient: flags.encounters, seed: flags.seed })) {
    process.stdout.write(`${JSON.stringify(resource)}\n`);
  }
}
