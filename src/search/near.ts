/**
 * The special `near` parameter of Location (R4 search page, "Special
 * parameters"): `near=[latitude]|[longitude]|[distance]|[units]`; the units
 * are UCUM (km when omitted), the distance is the server's choice when
 * omitted (DEFAULT_NEAR_KM, documented in docs/search.md).
 *
 * Evaluation is two-stage so that it works on any store, including MongoDB
 * deployments without geospatial indexes (FerretDB, mongo-java-server): a
 * bounding box over the indexed `{ lat, lon }` entries (plain comparison
 * operators, served by an ordinary compound index), then the true great-circle
 * distance computed in the engine on the box's candidates (geolib).
 */
import { getDistance } from 'geolib';
import { errors } from '../errors.js';
import { convertUnits } from './ucum.js';
import { DECIMAL, splitPipes, unescapeValue } from './search-values.js';

export const DEFAULT_NEAR_KM = 5;
const EARTH_RADIUS_M = 6_371_008.8;

export interface NearQuery {
  latitude: number;
  longitude: number;
  /** Radius in metres. */
  metres: number;
}

export function parseNear(value: string, rawName: string): NearQuery {
  const parts = splitPipes(value).map(unescapeValue);
  if (parts.length < 2 || parts.length > 4) throw errors.invalidParameter(rawName, `near takes latitude|longitude|distance|units`);
  const [lat, lon, distance, units] = parts;
  if (!DECIMAL.test(lat) || !DECIMAL.test(lon)) throw errors.invalidParameter(rawName, `near: latitude and longitude must be decimals`);
  const latitude = Number(lat);
  const longitude = Number(lon);
  if (Math.abs(latitude) > 90 || Math.abs(longitude) > 180) throw errors.invalidParameter(rawName, `near: latitude must be within ±90 and longitude within ±180`);
  let metres = DEFAULT_NEAR_KM * 1000;
  if (distance !== undefined && distance !== '') {
    if (!DECIMAL.test(distance) || Number(distance) < 0) throw errors.invalidParameter(rawName, `near: the distance must be a non-negative decimal`);
    const converted = convertUnits(Number(distance), units || 'km', 'm');
    if (converted === undefined) throw errors.invalidParameter(rawName, `near: '${units}' is not a UCUM unit of length`);
    metres = converted;
  }
  return { latitude, longitude, metres };
}

/** A latitude/longitude box that contains the whole circle (a superset; the exact test follows). */
export function boundingBox(near: NearQuery): { latMin: number; latMax: number; lonMin: number; lonMax: number } {
  const dLat = (near.metres / EARTH_RADIUS_M) * (180 / Math.PI);
  const latMin = Math.max(-90, near.latitude - dLat);
  const latMax = Math.min(90, near.latitude + dLat);
  const widest = Math.max(Math.abs(latMin), Math.abs(latMax));
  const cos = Math.cos((widest * Math.PI) / 180);
  // Near the poles (or for huge radii) every longitude can be in the circle.
  const dLon = cos < 1e-6 ? 180 : Math.min(180, dLat / cos);
  return { latMin, latMax, lonMin: near.longitude - dLon, lonMax: near.longitude + dLon };
}

export function distanceMetres(near: NearQuery, position: { lat: number; lon: number }): number {
  return getDistance({ latitude: near.latitude, longitude: near.longitude }, { latitude: position.lat, longitude: position.lon }, 0.01);
}
