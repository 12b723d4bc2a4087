/**
 * Where people and practices are: the patient's home from Address's HL7
 * geolocation extension, a practice from Location.position; distances by the
 * haversine formula (geolib's getDistance), in kilometres.
 */
import type { Address, Location, Patient } from 'fhir/r4';
import { getDistance } from 'geolib';
import { EXT_GEOLOCATION } from './coordination-codes.js';

export interface Position {
  latitude: number;
  longitude: number;
}

export function addressPosition(address: Address | undefined): Position | undefined {
  const geo = address?.extension?.find((e) => e.url === EXT_GEOLOCATION);
  const latitude = geo?.extension?.find((e) => e.url === 'latitude')?.valueDecimal;
  const longitude = geo?.extension?.find((e) => e.url === 'longitude')?.valueDecimal;
  return latitude !== undefined && longitude !== undefined ? { latitude, longitude } : undefined;
}

/** The patient's home: the address with use "home" first, then any address with a position. */
export function homePosition(patient: Patient | undefined): Position | undefined {
  const addresses = patient?.address ?? [];
  const ordered = [...addresses.filter((a) => a.use === 'home'), ...addresses.filter((a) => a.use !== 'home')];
  for (const address of ordered) {
    const position = addressPosition(address);
    if (position) return position;
  }
  return undefined;
}

export function locationPosition(location: Location | undefined): Position | undefined {
  if (location?.position) return { latitude: location.position.latitude, longitude: location.position.longitude };
  return addressPosition(location?.address);
}

export function distanceKm(a: Position, b: Position): number {
  return getDistance(a, b, 10) / 1000;
}
