/**
 * What the owner lets members do beyond chatting (issue #34): create rooms (a setting, default on).
 * Kept in the settings table; read by the policy operations and the client API (main/core/client/).
 */
import type { Settings } from '../store/settings.ts';

const KEY = 'members_may_create_rooms';

export function membersMayCreateRooms(settings: Settings): boolean {
  return settings.get(KEY) !== '0';
}

export function setMembersMayCreateRooms(settings: Settings, allowed: boolean): void {
  settings.set(KEY, allowed ? '1' : '0');
}
